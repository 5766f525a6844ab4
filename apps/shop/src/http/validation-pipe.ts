import { BadRequestException, ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';

/** Deeper bodies are refused before validation: class-validator recurses and would overflow the stack (a 500). */
export const MAX_BODY_DEPTH = 32;

/**
 * Bodies must match their DTO exactly: unknown fields are an error (not silently dropped), and
 * nothing is converted ("2" stays a string, and is refused where a number is wanted). The messages
 * are joined into one string, as the contract's error shape has a single `message`.
 */
export function strictValidationPipe(): ValidationPipe {
  return new DepthLimitedValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: false,
    // One message per field: "qty must be a whole number from 1 to 99" once, not once per rule broken.
    stopAtFirstError: true,
    exceptionFactory: (errors) => new BadRequestException(describe(errors).join('; ')),
  });
}

function describe(errors: ValidationError[]): string[] {
  const messages = errors.flatMap((error) => [...Object.values(error.constraints ?? {}), ...describe(error.children ?? [])]);
  return [...new Set(messages)];
}

/** A ValidationPipe that answers 400 to a body nested deeper than `MAX_BODY_DEPTH` before validating it. */
class DepthLimitedValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && depthExceeds(value, MAX_BODY_DEPTH)) {
      throw new BadRequestException(`Request body is nested more than ${MAX_BODY_DEPTH} levels deep`);
    }
    return super.transform(value, metadata);
  }
}

/** Whether objects and arrays nest deeper than `limit`; iterative, so any depth is measured without recursion. */
function depthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(current)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

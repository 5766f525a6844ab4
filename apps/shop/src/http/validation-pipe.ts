import { BadRequestException, ValidationPipe, type ValidationError } from '@nestjs/common';

/**
 * Bodies must match their DTO exactly: unknown fields are an error (not silently dropped), and
 * nothing is converted ("2" stays a string, and is refused where a number is wanted). The messages
 * are joined into one string, as the contract's error shape has a single `message`.
 */
export function strictValidationPipe(): ValidationPipe {
  return new ValidationPipe({
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

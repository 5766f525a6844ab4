import { BadRequestException, type ArgumentMetadata } from '@nestjs/common';
import { strictValidationPipe } from '../http/validation-pipe';
import { LoginDto } from '../auth/login.dto';
import { AddItemDto } from './add-item.dto';

const pipe = strictValidationPipe();
const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'body', metatype });

async function messageFor(value: unknown, metatype: ArgumentMetadata['metatype'] = AddItemDto): Promise<string> {
  try {
    await pipe.transform(value, body(metatype));
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return ((error as BadRequestException).getResponse() as { message: string }).message;
  }
  throw new Error(`${JSON.stringify(value)} was accepted`);
}

describe('request bodies', () => {
  it('accepts a catalog SKU with a whole quantity from 1 to 99, unchanged', async () => {
    for (const qty of [1, 99]) {
      await expect(pipe.transform({ sku: 'TEA-EARL', qty }, body(AddItemDto))).resolves.toEqual({ sku: 'TEA-EARL', qty });
    }
  });

  it.each([
    [{ sku: 'NOPE', qty: 1 }, 'sku "NOPE" is not in the catalog (see GET /api/products)'],
    [{ qty: 1 }, 'sku is required and must be a string'],
    [{ sku: 'TEA-EARL', qty: 0 }, 'qty must be a whole number from 1 to 99'],
    [{ sku: 'TEA-EARL', qty: 100 }, 'qty must be a whole number from 1 to 99'],
    [{ sku: 'TEA-EARL', qty: 1.5 }, 'qty must be a whole number from 1 to 99'],
    [{ sku: 'TEA-EARL', qty: '2' }, 'qty must be a whole number from 1 to 99'],
    [{ sku: 'TEA-EARL' }, 'qty must be a whole number from 1 to 99'],
    [{ sku: 'TEA-EARL', qty: 1, price: 0 }, 'property price should not exist'],
  ])('refuses %j with one message per field: %s', async (value, message) => {
    await expect(messageFor(value)).resolves.toBe(message);
  });

  it.each([
    [{ username: 'alice' }, 'password is required and must be a string'],
    [{ username: 'alice', password: '' }, 'password must not be empty'],
    [{ username: 7, password: 'x' }, 'username is required and must be a string'],
    [{ username: 'a'.repeat(65), password: 'x' }, 'username must be at most 64 characters'],
    [{ username: 'alice', password: 'x', remember: true }, 'property remember should not exist'],
  ])('refuses the login body %j: %s', async (value, message) => {
    await expect(messageFor(value, LoginDto)).resolves.toBe(message);
  });
});

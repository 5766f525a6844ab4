import { IsIn, IsInt, IsString, Max, Min } from 'class-validator';
import { SKUS } from '../catalog/catalog';

const QTY_RULE = 'qty must be a whole number from 1 to 99';

/**
 * Body of `POST /api/cart/items`. The validation pipe stops at a field's first broken rule, and
 * decorators run bottom-up: the most basic rule sits at the bottom.
 */
export class AddItemDto {
  @IsIn(SKUS, { message: ({ value }) => `sku "${String(value)}" is not in the catalog (see GET /api/products)` })
  @IsString({ message: 'sku is required and must be a string' })
  sku: string;

  // Nothing converts types in the pipe: "2" is a string, not a quantity, and is refused.
  @Max(99, { message: QTY_RULE })
  @Min(1, { message: QTY_RULE })
  @IsInt({ message: QTY_RULE })
  qty: number;
}

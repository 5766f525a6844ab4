import { Controller, Get } from '@nestjs/common';
import { Public } from '@app/session';
import { CATALOG, type Product } from './catalog';

@Public()
@Controller('api/products')
export class ProductsController {
  /** The catalog needs no session: reading it never creates one. */
  @Get()
  list(): readonly Product[] {
    return CATALOG;
  }
}

import { Controller, Get } from '@nestjs/common';
import { PublicRoute } from 'nest-redis-session';
import { CATALOG, type Product } from './catalog';

@PublicRoute()
@Controller('api/products')
export class ProductsController {
  /** The catalog needs no session: reading it never creates one. */
  @Get()
  list(): readonly Product[] {
    return CATALOG;
  }
}

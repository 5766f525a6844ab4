import { Body, Controller, Delete, Get, NotFoundException, Param, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { PublicRoute, Session, SessionService } from 'nest-redis-session';
import { findProduct } from '../catalog/catalog';
import { AddItemDto } from './add-item.dto';
import { addToCart, removeFromCart, viewCart, type CartLine, type CartView } from './cart';
import { LiveCart } from '../live/live-cart';

/**
 * The cart lives in the session, so anonymous visitors may fill one and it survives login. Every change
 * goes through `SessionService.update`, a compare-and-set on the `cart` key in Redis: parallel requests
 * on any replicas never overwrite each other's lines.
 */
@PublicRoute()
@Controller('api/cart')
export class CartController {
  constructor(
    private readonly sessions: SessionService,
    private readonly live: LiveCart,
  ) {}

  /** Reading one key does not create a session, so a first-time visitor gets no cookie here. */
  @Get()
  show(@Session('cart') cart: CartLine[] | undefined): CartView {
    return viewCart(cart);
  }

  @Post('items')
  async add(@Req() req: Request, @Body() item: AddItemDto): Promise<CartView> {
    const product = findProduct(item.sku)!; // AddItemDto only lets catalog SKUs through
    const cart = await this.sessions.update(req, 'cart', (lines) => addToCart(lines, product.sku, item.qty));
    return this.announced(req, viewCart(cart));
  }

  @Delete('items/:sku')
  async remove(@Req() req: Request, @Param('sku') sku: string): Promise<CartView> {
    const cart = await this.sessions.update(req, 'cart', (lines) => {
      const next = removeFromCart(lines, sku);
      // Thrown inside the update so that the check and the write see the same cart.
      if (!next) throw new NotFoundException(`Your cart has no line for sku "${sku}"`);
      return next;
    });
    return this.announced(req, viewCart(cart));
  }

  /** The session's sockets, on every replica, get the new cart (the live channel). */
  private announced(req: Request, cart: CartView): CartView {
    this.live.changed(this.sessions.sessionOf(req)?.live, cart);
    return cart;
  }
}

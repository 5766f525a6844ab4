import { Body, Controller, Headers, HttpCode, Post, Req, UnprocessableEntityException } from '@nestjs/common';
import type { Request } from 'express';
import { SessionService } from '@app/session';

/** Requests of one burst waiting for the rest of it, by burst ID; shared by every app of the test process. */
const bursts = new Map<string, { arrived: number; release: () => void; released: Promise<void> }>();

/**
 * Resolves once `size` requests of the burst `id` have arrived, in whichever app: the updates they
 * make after it then all start in the same tick, however fast or loaded the machine is, so what
 * queues up behind what does not depend on timing.
 */
function arrive(id: string, size: number): Promise<void> {
  let burst = bursts.get(id);
  if (!burst) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    burst = { arrived: 0, release, released };
    bursts.set(id, burst);
  }
  if (++burst.arrived === size) {
    bursts.delete(id);
    burst.release();
  }
  return burst.released;
}

/**
 * `POST /burst/items`: appends `item` to the session's `items` with `SessionService.update` once the
 * whole burst (headers `x-burst`, `x-burst-size`) has arrived. With `fail`, the change function throws
 * an error with that message, answered 422 so the test sees that this caller, and only it, got it.
 */
@Controller('burst')
export class BurstController {
  constructor(private readonly sessions: SessionService) {}

  @Post('items')
  @HttpCode(200)
  async add(
    @Req() req: Request,
    @Headers('x-burst') id: string,
    @Headers('x-burst-size') size: string,
    @Body() body: { item: string; fail?: string },
  ): Promise<{ count: number }> {
    await arrive(id, Number(size));
    try {
      const items = await this.sessions.update(req, 'items', (current) => {
        if (body.fail) throw new Error(body.fail);
        return [...(current ?? []), body.item];
      });
      return { count: items?.length ?? 0 };
    } catch (error) {
      if (body.fail && (error as Error).message === body.fail) throw new UnprocessableEntityException(body.fail);
      throw error;
    }
  }
}

import { SetMetadata } from '@nestjs/common';
import { PUBLIC_ROUTE } from '../session.constants';

/**
 * Lets a route (or every route of a controller) through `AuthenticatedGuard`, for apps that apply the
 * guard globally. @example `@Public() @Get('health') health() {}`
 */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

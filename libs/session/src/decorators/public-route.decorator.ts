import { SetMetadata } from '@nestjs/common';
import { PUBLIC_ROUTE } from '../session.constants';

/**
 * Lets a route (or every route of a controller) through `AuthenticatedGuard`, for apps that apply the
 * guard globally. @example `@PublicRoute() @Get('health') health() {}`
 */
export const PublicRoute = () => SetMetadata(PUBLIC_ROUTE, true);

import { SetMetadata } from '@nestjs/common';
import { SKIP_CSRF } from '../session.constants';

/**
 * Exempts a route (or a controller) from `CsrfGuard`, e.g. a webhook authenticated by other means.
 * @example `@SkipCsrf() @Post('webhooks/payment') paid() {}`
 */
export const SkipCsrf = () => SetMetadata(SKIP_CSRF, true);

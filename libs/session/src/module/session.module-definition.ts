import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SessionModuleExtras, SessionModuleOptions } from '../options/session-options.interface';

/**
 * `SessionModule`'s base: `forRoot` and `forRootAsync` (with `isGlobal`) as Nest's ConfigurableModuleBuilder
 * writes them. Public only because `SessionModule` extends it; import `SessionModule`.
 */
export const { ConfigurableModuleClass: ConfigurableSessionModule, MODULE_OPTIONS_TOKEN: SESSION_MODULE_OPTIONS } =
  new ConfigurableModuleBuilder<SessionModuleOptions>({ moduleName: 'Session' })
    .setClassMethodName('forRoot')
    .setExtras<SessionModuleExtras>({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();

import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

/** Body of `POST /api/auth/login`. Decorators run bottom-up, and the pipe stops at a field's first broken rule. */
export class LoginDto {
  // Bounded so a failure counter's key in Redis stays small.
  @MaxLength(64, { message: 'username must be at most 64 characters' })
  @IsNotEmpty({ message: 'username must not be empty' })
  @IsString({ message: 'username is required and must be a string' })
  username: string;

  // Bounded because every login attempt pays for hashing it.
  @MaxLength(256, { message: 'password must be at most 256 characters' })
  @IsNotEmpty({ message: 'password must not be empty' })
  @IsString({ message: 'password is required and must be a string' })
  password: string;
}

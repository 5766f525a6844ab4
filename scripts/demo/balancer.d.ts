/** A running round-robin balancer. */
export interface Balancer {
  /** Base URL, e.g. `http://127.0.0.1:51234`. */
  url: string;
  port: number;
  /** Stops listening, drops open connections (client and replica side). */
  close(): Promise<void>;
}

/** Starts a round-robin HTTP balancer without stickiness in front of `targets` (replica base URLs). */
export function startBalancer(options: { targets: string[]; port?: number; host?: string }): Promise<Balancer>;

// Sign-up and log-in, throttled: failed logins are counted per e-mail (whether or not it has an account) and per
// address over a window shared by every instance (over the limit: 429, even with the right password, until the
// window ends), sign-ups are limited per address, and the hashing itself is queued fairly (see hash-pool.ts). Every
// refused login costs the same time (refusal-cost.ts), so the answer time tells nothing about the account.
import type { AccountLimits } from '../config.js';
import type { RateWindows } from '../counters/rate-windows.js';
import { AppError, appError } from '../shared/errors.js';
import type { User } from '../shared/model.js';
import type { Store } from '../store/store.js';
import type { Passwords } from './password.js';
import { RefusalCost } from './refusal-cost.js';
import type { TokenService } from './tokens.js';

export interface AccountsDeps {
  store: Pick<Store, 'createUser' | 'findUserByEmail'>;
  passwords: Passwords;
  tokens: TokenService;
  rates: Pick<RateWindows, 'add' | 'chargeBucket'>;
  limits: AccountLimits;
}

/** The e-mail as the throttle and the lookup see it: case and surrounding spaces do not make another account. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export class Accounts {
  private readonly refusals = new RefusalCost();

  constructor(private readonly deps: AccountsDeps) {}

  async signup(input: { email: string; password: string; nickname: string }, address: string): Promise<{ user: User; accessToken: string }> {
    await this.takeSignup(address);
    const passwordHash = await this.deps.passwords.hash(`ip:${address}`, input.password);
    const user = await this.deps.store.createUser({ email: input.email, nickname: input.nickname, passwordHash });
    return { user, accessToken: this.deps.tokens.issue(user.id) };
  }

  /** One sign-up from the address's bucket, shared by every instance; a refusal gives its token back (no debt). */
  private async takeSignup(address: string): Promise<void> {
    const { signupPerSecPerIp: perSec, signupBurstPerIp: burst } = this.deps.limits;
    const key = `signup:ip:${address}`;
    if ((await this.deps.rates.chargeBucket(key, 1, perSec, burst)) >= 0) return;
    await this.deps.rates.chargeBucket(key, -1, perSec, burst);
    throw appError('rate-limited', 'too many sign-ups from this address; retry later');
  }

  async login(input: { email: string; password: string }, address: string): Promise<{ user: User; accessToken: string }> {
    const startedAt = performance.now();
    const email = normaliseEmail(input.email);
    const { loginFailuresPerAccount, loginFailuresPerIp, loginWindowMs } = this.deps.limits;
    const [byAccount, byAddress] = await Promise.all([
      this.deps.rates.add(`login-fail:acct:${email}`, 0, loginWindowMs),
      this.deps.rates.add(`login-fail:ip:${address}`, 0, loginWindowMs),
    ]);
    if (byAccount >= loginFailuresPerAccount || byAddress >= loginFailuresPerIp) {
      // As slow as a checked refusal. An instance that has not measured one yet checks this once for real.
      if (this.refusals.known) await this.refusals.pad(startedAt);
      else await this.check(email, input.password).then(() => this.refusals.record(performance.now() - startedAt));
      throw appError('rate-limited', 'too many failed logins; retry later');
    }
    const live = await this.check(email, input.password).catch(async (err: unknown) => {
      // The hash queue of this e-mail is full (429) or the pool is (503): refused without hashing, padded alike.
      if (err instanceof AppError) await this.refusals.pad(startedAt);
      throw err;
    });
    if (!live) {
      await Promise.all([this.deps.rates.add(`login-fail:acct:${email}`, 1, loginWindowMs), this.deps.rates.add(`login-fail:ip:${address}`, 1, loginWindowMs)]);
      this.refusals.record(performance.now() - startedAt);
      throw appError('invalid-credentials', 'wrong email or password');
    }
    const { passwordHash: _h, deletedAt: _d, ...user } = live;
    return { user, accessToken: this.deps.tokens.issue(user.id) };
  }

  /** The live account when the password is right; null otherwise — after the same work either way. */
  private async check(email: string, password: string) {
    const found = await this.deps.store.findUserByEmail(email);
    const live = found && !found.deletedAt ? found : null;
    const ok = await this.deps.passwords.verify(`acct:${email}`, password, live?.passwordHash ?? null);
    return live && ok ? live : null;
  }
}

// Sign-up and log-in, throttled: failed logins are counted per account and per address over a window shared by
// every instance (over the limit: 429, even with the right password, until the window ends), sign-ups are
// limited per address, and the hashing itself is queued fairly (see hash-pool.ts).
import type { AccountLimits } from '../config.js';
import type { RateWindows } from '../counters/rate-windows.js';
import { BucketMap } from '../shared/token-bucket.js';
import { appError } from '../shared/errors.js';
import type { User } from '../shared/model.js';
import type { Store } from '../store/store.js';
import type { Passwords } from './password.js';
import type { TokenService } from './tokens.js';

export interface AccountsDeps {
  store: Pick<Store, 'createUser' | 'findUserByEmail'>;
  passwords: Passwords;
  tokens: TokenService;
  rates: Pick<RateWindows, 'add'>;
  limits: AccountLimits;
}

export class Accounts {
  private readonly signups: BucketMap;

  constructor(private readonly deps: AccountsDeps) {
    this.signups = new BucketMap(deps.limits.signupPerSecPerIp, deps.limits.signupBurstPerIp);
  }

  async signup(input: { email: string; password: string; nickname: string }, address: string): Promise<{ user: User; accessToken: string }> {
    if (!this.signups.get(address).take()) throw appError('rate-limited', 'too many sign-ups from this address; retry later');
    const passwordHash = await this.deps.passwords.hash(`ip:${address}`, input.password);
    const user = await this.deps.store.createUser({ email: input.email, nickname: input.nickname, passwordHash });
    return { user, accessToken: this.deps.tokens.issue(user.id) };
  }

  async login(input: { email: string; password: string }, address: string): Promise<{ user: User; accessToken: string }> {
    const email = input.email.toLowerCase();
    const { loginFailuresPerAccount, loginFailuresPerIp, loginWindowMs } = this.deps.limits;
    const [byAccount, byAddress] = await Promise.all([
      this.deps.rates.add(`login-fail:acct:${email}`, 0, loginWindowMs),
      this.deps.rates.add(`login-fail:ip:${address}`, 0, loginWindowMs),
    ]);
    if (byAccount >= loginFailuresPerAccount || byAddress >= loginFailuresPerIp) {
      throw appError('rate-limited', 'too many failed logins; retry later');
    }
    const found = await this.deps.store.findUserByEmail(email);
    const live = found && !found.deletedAt ? found : null;
    const ok = await this.deps.passwords.verify(`acct:${email}`, input.password, live?.passwordHash ?? null);
    if (!live || !ok) {
      await Promise.all([
        this.deps.rates.add(`login-fail:acct:${email}`, 1, loginWindowMs),
        this.deps.rates.add(`login-fail:ip:${address}`, 1, loginWindowMs),
      ]);
      throw appError('invalid-credentials', 'wrong email or password');
    }
    const { passwordHash: _h, deletedAt: _d, ...user } = live;
    return { user, accessToken: this.deps.tokens.issue(user.id) };
  }
}

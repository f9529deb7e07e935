/**
 * `T` with the `readonly` of every field taken off. For the module-level
 * scratch records (a packet's plan, its contents, an ACK's sample) that are
 * rewritten in place per packet instead of allocated: their readers see the
 * readonly type, the one module that fills them this one.
 */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

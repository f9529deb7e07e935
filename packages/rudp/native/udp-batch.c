/*
 * UDP sockets that move datagrams in batches (Linux: recvmmsg and sendmmsg).
 *
 * node:dgram makes one JavaScript call per datagram received (with a fresh
 * 64 KiB allocation cut down to size, a Buffer and an address object) and
 * one system call per datagram sent: about 2.8 us of user CPU per datagram
 * received on this machine, which is most of what separates rudp from
 * libudx on the same traffic. Here a readable socket is drained with
 * recvmmsg, 32 datagrams a call, and each call's datagrams reach JavaScript
 * in one callback: each in a new ArrayBuffer of its own (an argument each), with their
 * lengths and source addresses written into an Int32Array the caller lent.
 * One receive round (a loop turn) hands over 128 datagrams at most, however
 * many GRO buffers hold: the rest of what was read waits in a backlog of the
 * socket, and the next rounds run from an idle handle on the next turns
 * until one stops short of the limit (then readiness takes over again).
 * Sends are packed by the caller the same way and leave in one sendmmsg.
 *
 * Where the kernel has them (Linux 4.18 and 5.0 on), runs of datagrams to one
 * peer leave as one UDP GSO send (UDP_SEGMENT: the kernel cuts one buffer
 * into datagrams of one size, the last maybe shorter) and a receiving socket
 * takes them back as one GRO buffer (UDP_GRO), cut here into the same
 * datagrams: the stack is walked once per run, not once per datagram. The
 * datagrams on the wire are those sent one by one would be: so that the ones
 * cut from a GSO send keep Don't Fragment too, such a socket sets it on
 * every datagram (IP_PMTUDISC_PROBE: rudp discovers the path MTU itself). A
 * GSO send refused for any reason is sent again datagram by datagram, and a
 * socket whose device cannot do it at all (EIO, EOPNOTSUPP) stops trying.
 *
 * The socket is polled by the event loop Node runs on (uv_poll_t): Node-API
 * gives addons that loop. Nothing here blocks. Built by
 * scripts/build-native.mjs; src/node/batch-socket.ts is the only user, and
 * falls back to node:dgram where this file is not built (not Linux, no
 * compiler) or does not load.
 *
 * A datagram larger than a slot (2,048 bytes: rudp never sends one over
 * 1,472) is dropped as truncated. A send the kernel refuses for want of
 * buffer space (EAGAIN, ENOBUFS) or size (EMSGSIZE: a path MTU probe too
 * large for the interface) is a lost datagram, which rudp's loss recovery
 * and path MTU discovery treat like any other loss; errors that say
 * something about the peer (ECONNREFUSED: an ICMP "port unreachable") are
 * returned to the caller.
 */
#define _GNU_SOURCE
/* Type tags (socket_arg) are Node-API 8. */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define SLOTS 32
#define SLOT_BYTES 2048
/* A GRO buffer is at most one IP packet's payload: 64 KiB. */
#define GRO_SLOT_BYTES 65536
/* Most datagrams in one GSO send (one under the kernel's UDP_MAX_SEGMENTS: kernels before 5.16 counted the headers in
 * against 64 segments, refusing a full 64) and most bytes (an IPv6 packet's payload less the UDP header, rounded down). */
#define GSO_MAX_SEGMENTS 63
#define GSO_MAX_BYTES 65000
/* recvmmsg calls per receive round. */
#define READS_PER_EVENT 4
/*
 * Most datagrams one receive round hands to JavaScript: what four plain reads carry. A GRO buffer holds up to
 * 64 datagrams, so a read of 32 of them could hand over some 2,000 in one event-loop turn and keep timers and
 * other sockets waiting; what is read past this waits in the socket's backlog for the next turn. udp-batch.ts's
 * ROUND_DATAGRAMS says the same number (the adapter drains a socket after a pause until a turn hands over fewer).
 */
#define ROUND_DATAGRAMS (SLOTS * READS_PER_EVENT)
/*
 * Int32 words of metadata per datagram: offset, length, port, family word, address (4 words). The family
 * word is 4 or 6, plus (IPv6) the interface index of a link-local address times 256 (its zone: fe80::/10
 * is on every interface, and an answer needs the one it came from; node:dgram's senders read "fe80::1%eth0").
 */
#define META_WORDS 8
#define FAMILY(word) ((word) & 0xff)
#define ZONE(word) ((uint32_t)(word) >> 8)
/* Interface indexes above this are not carried (the family word must stay a positive int32). */
#define MAX_ZONE 0x7fffff
#define SEND_MAX 64
/* Datagrams one sendmmsg call carries at most (each its own iovec; a GSO send holds several). */
#define SEND_IOVS 256

/* Room for one cmsg holding an int (UDP_GRO's segment size on receive; UDP_SEGMENT's uint16_t on send fits it too). */
typedef union {
  struct cmsghdr align;
  unsigned char bytes[CMSG_SPACE(sizeof(int))];
} Control;

/* Buffers shared by every socket of one thread (Node-API instance data): JavaScript copies each batch out before the next. */
typedef struct {
  /* SLOTS receive slots, of GRO_SLOT_BYTES on a GRO socket and SLOT_BYTES otherwise (pages never written are never touched). */
  unsigned char area[SLOTS * GRO_SLOT_BYTES];
  Control recv_control[SLOTS];
  struct mmsghdr msgs[SEND_MAX];
  struct iovec iov[SEND_IOVS];
  struct sockaddr_storage addrs[SEND_MAX];
  Control send_control[SEND_MAX];
  /* Datagrams in each of the batch's sends (1 unless GSO). */
  int group[SEND_MAX];
} Scratch;

/* A received buffer being cut into datagrams: the next one's bytes, the bytes left, the datagram size (the last
 * may be shorter), how many datagrams are left (an empty datagram is one too) and the sender. */
typedef struct {
  const unsigned char *at;
  size_t left;
  size_t segment;
  size_t datagrams;
  const struct sockaddr_storage *from;
} Run;

/*
 * Datagrams read from the kernel but not handed over yet (a round's limit came first), in one allocation: the
 * runs, their senders and their bytes. The receive area is shared by every socket of the thread and overwritten
 * by the next read, so the rest is copied here; delivered first, in order, one round a loop turn.
 */
typedef struct {
  int count;
  int next;
  Run *runs;
} Backlog;

typedef struct Socket {
  napi_env env;
  int fd;
  int family;
  /* UDP_SEGMENT may be tried on sends (the kernel has it, the caller allows it, no send refused it yet). */
  int gso;
  /* UDP_GRO is on: a receive may be several datagrams of one size in one buffer. */
  int gro;
  uv_poll_t poll;
  int polling;
  /* Runs the next receive round on the next loop turn, while a round ended at its limit (more may wait). Made
   * the first time a round does (most sockets never: a client's socket of a quiet connection costs less). */
  uv_idle_t *idle;
  int idling;
  Backlog *backlog;
  /* libuv handles (the poll, and the idle once made) not closed yet. */
  int open_handles;
  /* ref(handle, false) was called: kept for start_polling when it comes before bind. */
  int unref;
  int closed;
  /* Set when the environment is torn down: nothing may call into JavaScript or Node-API afterwards. */
  int env_gone;
  /* The JavaScript handle was collected: the struct is freed once the poll handle is closed too. */
  int finalized;
  int handle_closed;
  napi_ref on_messages;
  napi_ref on_error;
  napi_ref meta;
  napi_async_context async;
} Socket;

static void free_scratch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static Scratch *scratch(napi_env env) {
  Scratch *s = NULL;
  if (napi_get_instance_data(env, (void **)&s) != napi_ok) return NULL;
  return s;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

static napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

/* Marks this addon's handles: any other object (another addon's external or wrapped object) is refused, not cast to a Socket. */
static const napi_type_tag SOCKET_TAG = {0x72756470785f7564ULL, 0x705f626174636801ULL};

static Socket *socket_arg(napi_env env, napi_value value) {
  Socket *s = NULL;
  napi_valuetype t;
  bool tagged = false;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_object) return NULL;
  if (napi_check_object_type_tag(env, value, &SOCKET_TAG, &tagged) != napi_ok || !tagged) return NULL;
  if (napi_unwrap(env, value, (void **)&s) != napi_ok) return NULL;
  return s;
}

/* A sockaddr for a family word from four address words (network byte order, as written by deliver) and a port. */
static socklen_t to_sockaddr(int32_t family, const int32_t *words, int port, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (FAMILY(family) == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    memcpy(&a->sin_addr, words, 4);
    return sizeof *a;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  a->sin6_scope_id = ZONE(family);
  memcpy(&a->sin6_addr, words, 16);
  return sizeof *a;
}

/*
 * A JavaScript string as C text, or 0. UTF-8, not Latin-1: Latin-1 keeps only
 * the low byte of each character, so "\u0131\u0132\u0137.0.0.1" would read as
 * 127.0.0.1. A string with a NUL in it is refused: C would stop reading there.
 */
static int text_arg(napi_env env, napi_value value, char *text, size_t size) {
  size_t len = 0;
  return napi_get_value_string_utf8(env, value, text, size, &len) == napi_ok && len < size - 1 && strlen(text) == len;
}

/* An IP literal and port as a sockaddr of the socket's family; 0 if the literal is not one. */
static socklen_t parse_address(napi_env env, napi_value host, napi_value port_value, int family, struct sockaddr_storage *out) {
  char text[64];
  uint32_t port = 0;
  if (!text_arg(env, host, text, sizeof text)) return 0;
  if (napi_get_value_uint32(env, port_value, &port) != napi_ok || port > 65535) return 0;
  memset(out, 0, sizeof *out);
  if (family == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    if (inet_pton(AF_INET, text, &a->sin_addr) != 1) return 0;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return sizeof *a;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET6, text, &a->sin6_addr) != 1) return 0;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  return sizeof *a;
}

static void on_handle_closed(uv_handle_t *handle) {
  Socket *s = handle->data;
  if (--s->open_handles > 0) return;
  s->handle_closed = 1;
  if (s->finalized) free(s);
}

static void on_idle_closed(uv_handle_t *handle) {
  on_handle_closed(handle);
  free(handle);
}

/* Stops polling and releases the JavaScript references; the descriptor closes with the poll handle. */
static void close_socket(Socket *s, int from_teardown);

static void on_teardown(void *arg) {
  Socket *s = arg;
  s->env_gone = 1;
  close_socket(s, 1);
}

static void close_socket(Socket *s, int from_teardown) {
  if (s->closed) return;
  s->closed = 1;
  if (!from_teardown) napi_remove_env_cleanup_hook(s->env, on_teardown, s);
  napi_delete_reference(s->env, s->on_messages);
  napi_delete_reference(s->env, s->on_error);
  napi_delete_reference(s->env, s->meta);
  napi_async_destroy(s->env, s->async);
  free(s->backlog);
  s->backlog = NULL;
  if (s->polling) {
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    if (s->idle != NULL) {
      uv_idle_stop(s->idle);
      uv_close((uv_handle_t *)s->idle, on_idle_closed);
      s->idle = NULL;
    }
  } else {
    s->handle_closed = 1;
  }
  /* Closed now, not in the close callback: libuv allows it once the poll handle is stopped, and the port is
   * free when close() returns (node:dgram's is by the time its close callback runs), so it can be bound again. */
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

static void finalize_socket(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Socket *s = data;
  if (!s->closed && !s->env_gone) close_socket(s, 0);
  s->finalized = 1;
  if (s->handle_closed) free(s);
}

/* Calls a JavaScript callback as an event-loop callback (microtasks run after it); an exception becomes an uncaught one. */
static void call_back(Socket *s, napi_ref fn_ref, size_t argc, const napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  /* napi_make_callback converts its receiver to an object: undefined would throw. */
  napi_get_global(env, &recv);
  if (napi_make_callback(env, s->async, recv, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
  }
}

static void report_error(Socket *s, int err, const char *syscall) {
  napi_value argv[2];
  napi_create_int32(s->env, -err, &argv[0]);
  napi_create_string_utf8(s->env, syscall, NAPI_AUTO_LENGTH, &argv[1]);
  call_back(s, s->on_error, 2, argv);
}

/* The segment size of a GRO receive (every datagram in it has this size but the last), or 0 if it is one datagram. */
static size_t gro_segment(const struct msghdr *h) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
    if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size;
      memcpy(&size, CMSG_DATA(c), sizeof size);
      return size > 0 ? (size_t)size : 0;
    }
  }
  return 0;
}

/* Writes a datagram's length and source into its metadata words. */
static void describe(int32_t *m, size_t len, const struct sockaddr_storage *from) {
  m[0] = 0;
  m[1] = (int32_t)len;
  memset(m + 4, 0, 16);
  if (from->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    m[2] = ntohs(a->sin_port);
    m[3] = 4;
    memcpy(m + 4, &a->sin_addr, 4);
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
    m[2] = ntohs(a->sin6_port);
    m[3] = 6;
    if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) && a->sin6_scope_id <= MAX_ZONE) m[3] |= (int32_t)(a->sin6_scope_id << 8);
    memcpy(m + 4, &a->sin6_addr, 16);
  }
}

/* A batch of received datagrams on its way to JavaScript (at most SLOTS: what the metadata array holds). */
typedef struct {
  /* The datagrams' ArrayBuffers: the callback's arguments. Arguments, not an array: an element set through
   * Node-API is a runtime call into V8 (a property lookup and store), a cost on every datagram. */
  napi_value buffers[SLOTS];
  int32_t *meta;
  int kept;
  /* Whether `meta` is looked up: a batch starts with its first datagram, so a delivery does no work for a batch
   * it never fills (most wake-ups of a server of many quiet peers bring one datagram). */
  int started;
} Batch;

/*
 * Starts a batch: the metadata array's bytes looked up again each time. The callback before may have detached
 * (and so freed) their buffer or shrunk it; the words of the rest of a GRO buffer must not be written there. A
 * metadata array that no longer holds SLOTS datagrams ends the delivery.
 */
static int start_batch(Socket *s, Batch *b) {
  napi_value meta_value;
  napi_typedarray_type type;
  size_t meta_len = 0;
  void *meta_data = NULL;
  b->kept = 0;
  b->started = 0;
  if (napi_get_reference_value(s->env, s->meta, &meta_value) != napi_ok || meta_value == NULL ||
      napi_get_typedarray_info(s->env, meta_value, &type, &meta_len, &meta_data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      meta_len < (size_t)SLOTS * META_WORDS)
    return 0;
  b->meta = meta_data;
  b->started = 1;
  return 1;
}

/* Hands the batch to JavaScript (one argument a datagram); false if the socket closed meanwhile (nothing more may be delivered). */
static int hand_over(Socket *s, Batch *b) {
  if (b->kept == 0) return 1;
  call_back(s, s->on_messages, (size_t)b->kept, b->buffers);
  b->kept = 0;
  b->started = 0;
  return !s->closed;
}

/*
 * Hands over the datagrams of `runs` from `*next` on, `budget` at most: their lengths and sources in the
 * metadata array, and each datagram's bytes in an ArrayBuffer of its own (one argument each), SLOTS datagrams a
 * callback at most: a message that fills most of its datagram is delivered as a view of it without a copy, and
 * never keeps other datagrams' bytes alive. `*next` and the runs are advanced past what was handed over, so
 * the rest can be kept for the next round. Returns how many were delivered, or -1 once nothing more may be
 * (the socket closed, or Node-API failed).
 */
static int deliver(Socket *s, Run *runs, int count, int *next, int budget) {
  int delivered = 0;
  napi_env env = s->env;
  Batch b;
  b.kept = 0;
  b.started = 0;
  for (; *next < count; ++*next) {
    Run *r = &runs[*next];
    while (r->datagrams > 0) {
      size_t len = r->segment < r->left ? r->segment : r->left;
      /* As without GRO: a datagram larger than a plain slot is dropped (rudp never sends one), and only it: the
       * shorter last datagram of a GRO buffer of larger ones is delivered. */
      if (len <= SLOT_BYTES) {
        if (delivered == budget) goto done;
        void *bytes = NULL;
        if (b.kept == SLOTS && !hand_over(s, &b)) return -1;
        if (!b.started && !start_batch(s, &b)) return -1;
        if (napi_create_arraybuffer(env, len, &bytes, &b.buffers[b.kept]) != napi_ok) return -1;
        if (len > 0) memcpy(bytes, r->at, len);
        describe(b.meta + (size_t)b.kept * META_WORDS, len, r->from);
        b.kept++;
        delivered++;
      }
      r->at += len;
      r->left -= len;
      r->datagrams--;
    }
  }
done:
  return hand_over(s, &b) ? delivered : -1;
}

/*
 * Copies the runs from `next` on that still hold datagrams into the socket's backlog (32 GRO buffers' worth, 2 MiB,
 * at most, while it lasts). Without memory for it, they are lost as datagrams the kernel had no room for are:
 * loss recovery resends them.
 */
static void keep_backlog(Socket *s, const Run *runs, int count, int next) {
  int kept = 0;
  size_t bytes = 0;
  for (int i = next; i < count; i++) {
    if (runs[i].datagrams == 0) continue;
    kept++;
    bytes += runs[i].left;
  }
  if (kept == 0) return;
  /* Header, runs, senders, bytes: each part's size a multiple of 8, so each part stays aligned. */
  Backlog *b = malloc(sizeof(Backlog) + (size_t)kept * (sizeof(Run) + sizeof(struct sockaddr_storage)) + bytes);
  if (b == NULL) return;
  b->count = kept;
  b->next = 0;
  b->runs = (Run *)(b + 1);
  struct sockaddr_storage *from = (struct sockaddr_storage *)(b->runs + kept);
  unsigned char *at = (unsigned char *)(from + kept);
  for (int i = next, k = 0; i < count; i++) {
    if (runs[i].datagrams == 0) continue;
    from[k] = *runs[i].from;
    if (runs[i].left > 0) memcpy(at, runs[i].at, runs[i].left);
    b->runs[k] = runs[i];
    b->runs[k].at = at;
    b->runs[k].from = &from[k];
    at += runs[i].left;
    k++;
  }
  s->backlog = b;
}

/*
 * One receive round: the backlog first (it came first), then recvmmsg while the round has room, ROUND_DATAGRAMS
 * datagrams handed over at most. Returns whether the next round should come on the next loop turn without
 * waiting for readiness: the round stopped at its limit, so a backlog (which no readiness would announce) or
 * more in the socket may wait. A round that stopped short emptied both; none runs until the socket is readable.
 */
static int receive_round(Socket *s) {
  int total = 0;
  Backlog *backlog = s->backlog;
  if (backlog != NULL) {
    int delivered = deliver(s, backlog->runs, backlog->count, &backlog->next, ROUND_DATAGRAMS);
    /* A callback that closed the socket freed the backlog with it. */
    if (s->closed) return 0;
    if (delivered < 0 || backlog->next >= backlog->count) {
      free(backlog);
      s->backlog = NULL;
    }
    if (delivered < 0) return 0;
    total = delivered;
    if (s->backlog != NULL) return 1;
  }
  Scratch *sc = scratch(s->env);
  struct mmsghdr msgs[SLOTS];
  struct iovec iov[SLOTS];
  struct sockaddr_storage from[SLOTS];
  Run runs[SLOTS];
  size_t slot_bytes = s->gro ? GRO_SLOT_BYTES : SLOT_BYTES;
  for (int round = 0; sc != NULL && round < READS_PER_EVENT && !s->closed && total < ROUND_DATAGRAMS; round++) {
    /* No more buffers than the round has room for datagrams: a buffer is one datagram at least (GRO: up to 64). */
    int want = ROUND_DATAGRAMS - total < SLOTS ? ROUND_DATAGRAMS - total : SLOTS;
    for (int i = 0; i < want; i++) {
      iov[i].iov_base = sc->area + (size_t)i * slot_bytes;
      iov[i].iov_len = slot_bytes;
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      if (s->gro) {
        msgs[i].msg_hdr.msg_control = sc->recv_control[i].bytes;
        msgs[i].msg_hdr.msg_controllen = sizeof sc->recv_control[i].bytes;
      }
    }
    int n = recvmmsg(s->fd, msgs, (unsigned)want, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      /* An ICMP error queued on the socket (ECONNREFUSED on a connected one): reading it clears it. */
      report_error(s, errno, "recvmsg");
      continue;
    }
    if (n == 0) return 0;
    for (int i = 0; i < n; i++) {
      Run *r = &runs[i];
      r->at = sc->area + (size_t)i * slot_bytes;
      r->left = msgs[i].msg_len;
      r->from = &from[i];
      size_t segment = s->gro ? gro_segment(&msgs[i].msg_hdr) : 0;
      r->segment = segment == 0 || segment > r->left ? r->left : segment;
      /* A truncated datagram is dropped; an empty one is one datagram too. */
      r->datagrams = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : r->left == 0 ? 1 : (r->left + r->segment - 1) / r->segment;
    }
    int next = 0;
    int delivered = deliver(s, runs, n, &next, ROUND_DATAGRAMS - total);
    if (delivered < 0) return 0;
    total += delivered;
    if (next < n) {
      keep_backlog(s, runs, n, next);
      return 1;
    }
    if (n < want) return 0;
  }
  return total >= ROUND_DATAGRAMS;
}

static void on_idle(uv_idle_t *idle);

/* Rounds go on from the idle handle while each stops at its limit; readiness takes over once one stops short. */
static void set_idling(Socket *s, int on) {
  if (s->closed || on == s->idling) return;
  if (on && s->idle == NULL) {
    s->idle = malloc(sizeof *s->idle);
    if (s->idle == NULL) {
      /* Nothing would deliver the backlog without readiness: it is lost, as in keep_backlog. */
      free(s->backlog);
      s->backlog = NULL;
      return;
    }
    uv_idle_init(s->poll.loop, s->idle);
    s->idle->data = s;
    s->open_handles++;
    if (s->unref) uv_unref((uv_handle_t *)s->idle);
  }
  s->idling = on;
  if (on) uv_idle_start(s->idle, on_idle);
  else uv_idle_stop(s->idle);
}

static void on_idle(uv_idle_t *idle) {
  Socket *s = idle->data;
  if (s->closed || s->env_gone) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  set_idling(s, receive_round(s));
  napi_close_handle_scope(s->env, scope);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  Socket *s = poll->data;
  if (s->closed || s->env_gone) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (status < 0) {
    /* libuv stops the handle and says UV_EBADF when epoll reports POLLERR, which a UDP socket does for a
     * pending ICMP error (ECONNREFUSED on a connected one). Reading SO_ERROR clears that error and names
     * it; polling starts again (a descriptor that is really bad fails getsockopt, and stays stopped). */
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
      report_error(s, errno, "recvmsg");
      napi_close_handle_scope(env, scope);
      return;
    }
    if (err != 0) report_error(s, err, "recvmsg");
    if (s->closed || uv_poll_start(&s->poll, UV_READABLE, on_readable) < 0) {
      napi_close_handle_scope(env, scope);
      return;
    }
  }
  /* While rounds run from the idle handle, it reads: a round here too would hand over twice the limit in one turn
   * (readiness is level-triggered: it is reported again once the idle rounds stop). */
  if (!s->idling) set_idling(s, receive_round(s));
  napi_close_handle_scope(env, scope);
}

/*
 * open(family, onMessages(...buffers: ArrayBuffer[]), onError(errno, syscall), meta: Int32Array, offload: boolean)
 * -> handle. `offload`: use UDP GSO and GRO where the kernel has them.
 */
static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  bool offload = false;
  int32_t family = 0;
  napi_valuetype t1, t2;
  napi_typedarray_type type;
  size_t meta_len = 0;
  bool is_typed = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 || napi_get_value_int32(env, argv[0], &family) != napi_ok ||
      (family != 4 && family != 6) || napi_typeof(env, argv[1], &t1) != napi_ok || t1 != napi_function || napi_typeof(env, argv[2], &t2) != napi_ok ||
      t2 != napi_function || napi_is_typedarray(env, argv[3], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[3], &type, &meta_len, NULL, NULL, NULL) != napi_ok || type != napi_int32_array ||
      meta_len < (size_t)SLOTS * META_WORDS || napi_get_value_bool(env, argv[4], &offload) != napi_ok)
    return throw_type(env, "open(family: 4 | 6, onMessages: Function, onError: Function, meta: Int32Array of 256+, offload: boolean)");
  if (scratch(env) == NULL) {
    Scratch *sc = calloc(1, sizeof(Scratch));
    if (sc == NULL || napi_set_instance_data(env, sc, free_scratch, NULL) != napi_ok) {
      free(sc);
      napi_throw_error(env, "ENOMEM", "udp-batch: out of memory");
      return NULL;
    }
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return number(env, -errno);
  Socket *s = calloc(1, sizeof(Socket));
  if (s == NULL) {
    close(fd);
    return number(env, -ENOMEM);
  }
  s->env = env;
  s->fd = fd;
  s->family = family;
  if (offload) {
    /* A socket-wide segment size of 0 changes nothing: it asks whether the kernel knows UDP_SEGMENT at all. */
    int zero = 0, one = 1;
    s->gso = setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
    s->gro = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
    /* Don't Fragment on every datagram, whatever its size, and no fragmenting here. By default a datagram gets
     * DF only when it fits the route's MTU, and a GSO send is tested whole: the datagrams cut from it would leave
     * without DF, and a router would fragment a path MTU probe instead of dropping it, so rudp would take the
     * path for wider than it is. Path MTU discovery is rudp's own (DPLPMTUD), as QUIC stacks do it. */
    if (s->gso) {
      int probe = family == 4 ? IP_PMTUDISC_PROBE : IPV6_PMTUDISC_PROBE;
      if (family == 4) setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof probe);
      else setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe, sizeof probe);
    }
  }
  napi_value name, handle;
  napi_create_string_utf8(env, "rudpx:UDP", NAPI_AUTO_LENGTH, &name);
  /* A tagged plain object, not an external: Node-API 8 type-tags objects, externals only in later Node releases. */
  if (napi_create_reference(env, argv[1], 1, &s->on_messages) != napi_ok || napi_create_reference(env, argv[2], 1, &s->on_error) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &s->meta) != napi_ok || napi_async_init(env, NULL, name, &s->async) != napi_ok ||
      napi_create_object(env, &handle) != napi_ok || napi_type_tag_object(env, handle, &SOCKET_TAG) != napi_ok ||
      napi_wrap(env, handle, s, finalize_socket, NULL, NULL) != napi_ok) {
    /* What was made before the failure goes with it. A failed napi_wrap leaves no finalizer to free `s`. */
    if (s->on_messages != NULL) napi_delete_reference(env, s->on_messages);
    if (s->on_error != NULL) napi_delete_reference(env, s->on_error);
    if (s->meta != NULL) napi_delete_reference(env, s->meta);
    if (s->async != NULL) napi_async_destroy(env, s->async);
    close(fd);
    free(s);
    napi_throw_error(env, "ENOMEM", "udp-batch: cannot create the socket's handle");
    return NULL;
  }
  napi_add_env_cleanup_hook(env, on_teardown, s);
  return handle;
}

/* Starts reading: called once the socket is bound. */
static int start_polling(Socket *s) {
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(s->env, &loop) != napi_ok || loop == NULL) return -EINVAL;
  int r = uv_poll_init_socket(loop, &s->poll, s->fd);
  if (r < 0) return r;
  s->poll.data = s;
  s->polling = 1;
  s->open_handles = 1;
  if (s->unref) uv_unref((uv_handle_t *)&s->poll);
  r = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  return r < 0 ? r : 0;
}

/* bind(handle, ip, port, receiveBufferBytes) -> 0 or -errno. */
static napi_value bind_socket(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t rcvbuf = 0;
  struct sockaddr_storage addr;
  Socket *s;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 || (s = socket_arg(env, argv[0])) == NULL ||
      napi_get_value_int32(env, argv[3], &rcvbuf) != napi_ok)
    return throw_type(env, "bind(handle, ip: string, port: number, receiveBufferBytes: number)");
  if (s->closed || s->polling) return number(env, -EINVAL);
  socklen_t len = parse_address(env, argv[1], argv[2], s->family, &addr);
  if (len == 0) return number(env, -EINVAL);
  /* As node:dgram's recvBufferSize: the kernel caps it at net.core.rmem_max. */
  if (rcvbuf > 0) setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(s->fd, (struct sockaddr *)&addr, len) < 0) return number(env, -errno);
  return number(env, start_polling(s));
}

/* connect(handle, ip, port) -> 0 or -errno: the kernel then filters other senders and reports ICMP errors. */
static napi_value connect_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  struct sockaddr_storage addr;
  Socket *s;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || (s = socket_arg(env, argv[0])) == NULL)
    return throw_type(env, "connect(handle, ip: string, port: number)");
  if (s->closed) return number(env, -EBADF);
  socklen_t len = parse_address(env, argv[1], argv[2], s->family, &addr);
  if (len == 0) return number(env, -EINVAL);
  if (connect(s->fd, (struct sockaddr *)&addr, len) < 0) return number(env, -errno);
  return number(env, 0);
}

/* The handle of a call that takes nothing else (address, offloads, close), or NULL. */
static Socket *sole_handle(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) return NULL;
  return socket_arg(env, argv[0]);
}

/* address(handle) -> [ip, port] of the bound socket, or a negative errno. */
static napi_value local_address(napi_env env, napi_callback_info info) {
  Socket *s = sole_handle(env, info);
  if (s == NULL) return throw_type(env, "address(handle)");
  if (s->closed) return number(env, -EBADF);
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (getsockname(s->fd, (struct sockaddr *)&addr, &len) < 0) return number(env, -errno);
  char text[INET6_ADDRSTRLEN];
  int port;
  if (addr.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&addr;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&addr;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  }
  napi_value out, ip, p;
  napi_create_array_with_length(env, 2, &out);
  napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &ip);
  napi_create_int32(env, port, &p);
  napi_set_element(env, out, 0, ip);
  napi_set_element(env, out, 1, p);
  return out;
}

/* Whether a failed send says something about the peer or the path (the caller is told), rather than a lost datagram. */
static int reportable(int err) {
  return err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS && err != EMSGSIZE && err != EINTR;
}

/* Whether a family word names `family` (and a zone only for IPv6). */
static int family_word_ok(int32_t word, int family) {
  return word > 0 && FAMILY(word) == family && (family == 6 || ZONE(word) == 0);
}

/* Whether datagram metadata `m` lies inside `blen` bytes and names a port, and the socket's family or its connected peer. */
static int valid_datagram(const int32_t *m, size_t blen, int family) {
  return m[0] >= 0 && m[1] >= 0 && (size_t)m[0] + (size_t)m[1] <= blen && (m[3] == 0 || family_word_ok(m[3], family)) && m[2] >= 0 && m[2] <= 65535;
}

/*
 * Copies datagram i's metadata to `out` and says whether it is valid. Read once (volatile: the compiler may not read
 * it again) and checked on the copy: meta on a SharedArrayBuffer may be changed by another thread after an earlier
 * check, and must not then point outside the bytes.
 */
static int read_datagram(const int32_t *meta, int32_t i, size_t blen, int family, int32_t out[META_WORDS]) {
  const volatile int32_t *src = meta + (size_t)i * META_WORDS;
  for (int k = 0; k < META_WORDS; k++) out[k] = src[k];
  return valid_datagram(out, blen, family);
}

/* Whether two datagrams' metadata name the same destination (family word 0: the connected peer). */
static int same_peer(const int32_t *a, const int32_t *b) {
  return a[3] == b[3] && (a[3] == 0 || (a[2] == b[2] && memcmp(a + 4, b + 4, 4 * sizeof(int32_t)) == 0));
}

/*
 * send(handle, bytes: Uint8Array, meta: Int32Array, count) -> datagrams the
 * kernel took, or -errno of the first error that says something about the
 * peer (every datagram after it is still tried). Datagram i is bytes
 * [meta[8i], meta[8i] + meta[8i+1]) for meta[8i+3] (family; 0: the connected
 * peer) at meta[8i+2] (port) and meta[8i+4..8i+7] (address, network order).
 */
static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  Socket *s;
  napi_typedarray_type bt, mt;
  size_t blen = 0, mlen = 0;
  void *bdata = NULL, *mdata = NULL;
  int32_t count = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 || (s = socket_arg(env, argv[0])) == NULL ||
      napi_get_typedarray_info(env, argv[1], &bt, &blen, &bdata, NULL, NULL) != napi_ok || bt != napi_uint8_array ||
      napi_get_typedarray_info(env, argv[2], &mt, &mlen, &mdata, NULL, NULL) != napi_ok || mt != napi_int32_array ||
      napi_get_value_int32(env, argv[3], &count) != napi_ok || count < 0 || (size_t)count * META_WORDS > mlen)
    return throw_type(env, "send(handle, bytes: Uint8Array, meta: Int32Array, count)");
  if (s->closed) return number(env, -EBADF);
  Scratch *sc = scratch(env);
  if (sc == NULL) return number(env, -EINVAL);
  const int32_t *meta = mdata;
  static const char *const outside = "send: a datagram outside the bytes, or of another address family";
  for (int32_t i = 0; i < count; i++) {
    if (!valid_datagram(meta + (size_t)i * META_WORDS, blen, s->family)) return throw_type(env, outside);
  }
  int sent = 0;
  int first_error = 0;
  int32_t at = 0;
  /* Datagrams before this index leave one by one: a GSO send of them was refused. */
  int32_t plain_until = 0;
  while (at < count) {
    int n = 0, iovs = 0;
    int32_t next = at;
    while (n < SEND_MAX && next < count && iovs < SEND_IOVS) {
      int32_t m[META_WORDS];
      if (!read_datagram(meta, next, blen, s->family, m)) return throw_type(env, outside);
      struct msghdr *h = &sc->msgs[n].msg_hdr;
      int32_t first = next;
      memset(&sc->msgs[n], 0, sizeof sc->msgs[n]);
      sc->iov[iovs].iov_base = (unsigned char *)bdata + m[0];
      sc->iov[iovs].iov_len = (size_t)m[1];
      h->msg_iov = &sc->iov[iovs];
      h->msg_iovlen = 1;
      iovs++;
      next++;
      if (m[3] != 0) {
        h->msg_name = &sc->addrs[n];
        h->msg_namelen = to_sockaddr(m[3], m + 4, m[2], &sc->addrs[n]);
      }
      /* Later datagrams to the same peer join this one's GSO send while they are its size (a shorter one ends it). */
      size_t segment = (size_t)m[1], total = segment;
      int joined = 1;
      while (s->gso && first >= plain_until && segment > 0 && total == segment * (size_t)joined && next < count && iovs < SEND_IOVS && joined < GSO_MAX_SEGMENTS) {
        int32_t o[META_WORDS];
        if (!read_datagram(meta, next, blen, s->family, o)) return throw_type(env, outside);
        size_t len = (size_t)o[1];
        /* A run starts with two datagrams of one size: a larger one before a smaller (a path MTU probe before
         * data) stays alone, so a probe refused or lost takes nothing with it. */
        if (len == 0 || len > segment || (joined == 1 && len != segment) || total + len > GSO_MAX_BYTES || !same_peer(o, m)) break;
        sc->iov[iovs].iov_base = (unsigned char *)bdata + o[0];
        sc->iov[iovs].iov_len = len;
        iovs++;
        next++;
        joined++;
        total += len;
      }
      if (joined > 1) {
        h->msg_iovlen = (size_t)joined;
        h->msg_control = sc->send_control[n].bytes;
        h->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        c->cmsg_level = IPPROTO_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t size = (uint16_t)segment;
        memcpy(CMSG_DATA(c), &size, sizeof size);
      }
      sc->group[n] = joined;
      n++;
    }
    int r = sendmmsg(s->fd, sc->msgs, (unsigned)n, 0);
    if (r > 0) {
      for (int g = 0; g < r; g++) {
        sent += sc->group[g];
        at += sc->group[g];
      }
      continue;
    }
    int err = r < 0 ? errno : 0;
    if (err == EINTR) continue;
    if (sc->group[0] > 1 && r < 0) {
      /* Whatever refused the GSO send (a segment over the route's MTU: EMSGSIZE, or EINVAL on older kernels;
       * a full buffer; a kernel's own limits), its datagrams go again one by one, each sent, lost or reported
       * on its own as without GSO. Only a device that cannot do it at all (EIO: no checksum offload) ends
       * GSO on this socket: EINVAL also comes from one datagram's size or destination. */
      if (err == EIO || err == EOPNOTSUPP) s->gso = 0;
      plain_until = at + sc->group[0];
      continue;
    }
    /* The send at `at` failed: its datagrams are lost (and reported when that means something); the rest are still tried. */
    if (reportable(err) && first_error == 0) first_error = err;
    at += sc->group[0];
  }
  return number(env, first_error != 0 ? -first_error : sent);
}

/* ref(handle, on): whether the socket keeps the event loop alive (said before bind, it holds from bind on). */
static napi_value ref_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool on = true;
  Socket *s;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || (s = socket_arg(env, argv[0])) == NULL ||
      napi_get_value_bool(env, argv[1], &on) != napi_ok)
    return throw_type(env, "ref(handle, on: boolean)");
  s->unref = !on;
  if (!s->closed && s->polling) {
    /* The idle handle too: a backlog keeps the process alive exactly when the socket does. */
    if (on) uv_ref((uv_handle_t *)&s->poll);
    else uv_unref((uv_handle_t *)&s->poll);
    if (s->idle != NULL) {
      if (on) uv_ref((uv_handle_t *)s->idle);
      else uv_unref((uv_handle_t *)s->idle);
    }
  }
  return NULL;
}

/* offloads(handle) -> what the socket uses of the kernel's UDP offloads: 1 (GSO sends) + 2 (GRO receives). */
static napi_value socket_offloads(napi_env env, napi_callback_info info) {
  Socket *s = sole_handle(env, info);
  if (s == NULL) return throw_type(env, "offloads(handle)");
  return number(env, (s->gso ? 1 : 0) + (s->gro ? 2 : 0));
}

/* close(handle): no callback runs after it; the descriptor is closed once the event loop lets go of it. */
static napi_value close_handle(napi_env env, napi_callback_info info) {
  Socket *s = sole_handle(env, info);
  if (s == NULL) return throw_type(env, "close(handle)");
  close_socket(s, 0);
  return NULL;
}

/*
 * ntop(family word, meta: Int32Array, word) -> the text of the address at meta[word..word+3] (network order),
 * with its zone as node:dgram writes it ("fe80::1%eth0"), or undefined.
 */
static napi_value format_address(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t family = 0;
  uint32_t word = 0;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || napi_get_value_int32(env, argv[0], &family) != napi_ok ||
      !(family_word_ok(family, 4) || family_word_ok(family, 6)) || napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) != napi_ok ||
      type != napi_int32_array || napi_get_value_uint32(env, argv[2], &word) != napi_ok || (size_t)word + 4 > len)
    return throw_type(env, "ntop(family: 4 | 6 (+ zone * 256), meta: Int32Array, word: number)");
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
  if (inet_ntop(FAMILY(family) == 4 ? AF_INET : AF_INET6, (const int32_t *)data + word, text, INET6_ADDRSTRLEN) == NULL) return NULL;
  if (ZONE(family) != 0) {
    /* The interface's name, as node:dgram; its index if it has none (any more). */
    size_t at = strlen(text);
    text[at++] = '%';
    if (if_indextoname(ZONE(family), text + at) == NULL) snprintf(text + at, IF_NAMESIZE, "%u", ZONE(family));
  }
  napi_value out;
  napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &out);
  return out;
}

/*
 * pton(family, ip, meta: Int32Array, word) -> the family word if ip is a literal of that family (its zone
 * counted in, as node:dgram's sends parse it), else false; the address bytes go to meta[word..word+3].
 */
static napi_value parse_literal(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t family = 0;
  uint32_t word = 0;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  char text[64];
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 || napi_get_value_int32(env, argv[0], &family) != napi_ok ||
      (family != 4 && family != 6) || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_string ||
      napi_get_typedarray_info(env, argv[2], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      napi_get_value_uint32(env, argv[3], &word) != napi_ok || (size_t)word + 4 > len)
    return throw_type(env, "pton(family: 4 | 6, ip: string, meta: Int32Array, word: number)");
  int32_t *out = (int32_t *)data + word;
  unsigned char bytes[16] = {0};
  struct sockaddr_in6 a6;
  int32_t family_word = 0;
  if (!text_arg(env, argv[1], text, sizeof text)) family_word = 0;
  else if (family == 4) family_word = inet_pton(AF_INET, text, bytes) == 1 ? 4 : 0;
  else if (uv_ip6_addr(text, 0, &a6) == 0) {
    /* libuv's parser, as node:dgram's: "%eth0" names the zone (an unknown name is no zone). */
    memcpy(bytes, &a6.sin6_addr, 16);
    family_word = 6 | (a6.sin6_scope_id <= MAX_ZONE ? (int32_t)(a6.sin6_scope_id << 8) : 0);
  }
  napi_value result;
  if (family_word == 0) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  memcpy(out, bytes, 16);
  napi_create_int32(env, family_word, &result);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bind", NULL, bind_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, connect_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"address", NULL, local_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ref", NULL, ref_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_handle, NULL, NULL, NULL, napi_enumerable, NULL},
      {"offloads", NULL, socket_offloads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ntop", NULL, format_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pton", NULL, parse_literal, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

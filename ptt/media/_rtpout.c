/* One downlink's RTP datagrams, built, SRTP-protected and sent in one C call.
 *
 * Why this exists: forwarding one talker's packet to a hundred listeners costs, per listener,
 * a header, an SRTP protect and a sendto. In CPython each of those is a few microseconds of
 * interpreter work around a sub-microsecond operation; here they are one call per listener.
 * fan_out() goes one step further: the whole per-listener loop of one talker packet
 * (re-timestamp, build, protect, send, count) runs here, each listener's readiness checked
 * first; the listeners it cannot serve go back to Python, which serves them as before.
 *
 * The rules that decide what goes into a packet (sequence numbers, timestamps, marker) are
 * ptt.rtp.Retimer's, the pure Python reference; Retimer below is a line-by-line translation
 * of its rewrite(), held equal to it by a differential test (tests/media/test_rtp_native.py).
 *
 * The SRTP context and srtp_protect are pylibsrtp's own (libsrtp 2.x, linked into pylibsrtp's
 * cffi module): Python passes their addresses (ptt.media.hooks checks the function's C
 * type first), so the keys negotiated by aiortc's DTLS transport are used as they are and this
 * module needs no libsrtp headers. The socket is the one aioice's ICE pair sends on; a full
 * socket buffer drops the packet (a voice packet queued behind others is too late anyway).
 * Once the pair is nominated Python connects that socket to the peer (connect_socket()), so
 * that send(2) reuses the kernel's cached route instead of sendto(2) resolving it each time.
 * An RtpOut holds the socket object and reads its fileno() before each send, never a bare
 * descriptor: once the socket is closed, a descriptor the kernel hands to another socket
 * receives nothing from here.
 *
 * Free-threaded Python: the shared buffer, the counters and the check-then-send above rely
 * on the GIL. The module declares that it needs it (Py_MOD_GIL_USED) and refuses to load
 * where the GIL is off anyway (PYTHON_GIL=0); the packets are then built in Python.
 *
 * Built as an optional extension: without a C compiler Siaga installs without it and the same
 * packets are built in Python (ptt.media.fast_sender.FastRtpSender).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>
#include <sys/socket.h>
#include <time.h>

/* libsrtp 2.x: srtp_err_status_t srtp_protect(srtp_t ctx, void *rtp_hdr, int *len_ptr) */
typedef int (*protect_fn)(void *ctx, void *rtp_hdr, int *len_ptr);

/* V/P/X/CC, M/PT, sequence number, timestamp: what changes per packet (the SSRC is in the tail). */
#define FIXED_HEADER 8
#define MAX_TAIL 256
/* libsrtp's SRTP_MAX_TRAILER_LEN: the longest tag plus the longest MKI. */
#define SRTP_MAX_TRAILER 144
#define BUFFER_SIZE 2048
#define MAX_PLAIN (BUFFER_SIZE - SRTP_MAX_TRAILER)

typedef struct {
    PyObject_HEAD
    /* The socket object, not its descriptor: its fileno() is read before every send, so that
     * once the socket is closed (fileno() is -1) nothing is sent on a descriptor the kernel
     * may since have given to another socket. */
    PyObject *sock;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    protect_fn protect;
    void *ctx;
    unsigned char byte0;
    unsigned char payload_type;
    Py_ssize_t tail_len;
    unsigned char tail[MAX_TAIL];
    /* fan_out()'s readiness checks (guard()): dtls._state is `connected`, nominated.get(1) is
     * `pair`, transport._closing (asyncio's is_closing()) is False; `session` keeps the SRTP
     * context alive. */
    PyObject *dtls, *connected, *nominated, *pair, *transport, *session;
    /* What fan_out() sent, for the sender reports (see FastRtpSender.sync). */
    unsigned long long sent, octets, sent_bytes, ntp;
    unsigned long rtp_timestamp;
    /* Set by connect_socket(): the socket is connected to addr, so send(2) is used, which
     * reuses the route the kernel cached at connect time instead of looking one up (and
     * allocating it) for every datagram as sendto(2) with an address does. */
    int socket_connected;
} RtpOut;

/* One buffer for every downlink: a packet is built, protected and sent before the next one
 * (the GIL is held throughout), and a hundred listeners then touch one buffer's cache lines
 * instead of a hundred. */
static unsigned char buffer[BUFFER_SIZE];

static PyObject *str_fileno;

static int
RtpOut_init(RtpOut *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"sock", "family", "address", "port", "scope_id", "protect",
                             "context", "byte0", "payload_type", "tail", NULL};
    PyObject *sock;
    int family, port, byte0, payload_type;
    unsigned int scope_id;
    Py_buffer address, tail;
    unsigned long long protect, context;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Oiy*iIKKiiy*", kwlist, &sock, &family, &address,
                                     &port, &scope_id, &protect, &context, &byte0,
                                     &payload_type, &tail)) {
        return -1;
    }
    int ok = 0;
    memset(&self->addr, 0, sizeof(self->addr));
    int fd = PyLong_Check(sock) ? -1 : PyObject_AsFileDescriptor(sock);  /* its fileno() */
    if (fd < 0) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "sock must be an open socket (not a descriptor)");
        }
    } else if (port <= 0 || port > 65535) {
        PyErr_SetString(PyExc_ValueError, "port must be in 1..65535");
    } else if (protect == 0 || context == 0) {
        PyErr_SetString(PyExc_ValueError, "protect and context must be addresses");
    } else if (byte0 < 0 || byte0 > 255 || payload_type < 0 || payload_type > 127) {
        PyErr_SetString(PyExc_ValueError, "byte0 must be a byte, payload_type 0..127");
    } else if (tail.len < 4 || tail.len > MAX_TAIL) {
        PyErr_SetString(PyExc_ValueError, "tail (SSRC and extensions) must be 4..256 bytes");
    } else if (family == AF_INET && address.len == 4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&self->addr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        memcpy(&sin->sin_addr, address.buf, 4);
        self->addrlen = sizeof(*sin);
        ok = 1;
    } else if (family == AF_INET6 && address.len == 16) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&self->addr;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        memcpy(&sin6->sin6_addr, address.buf, 16);
        sin6->sin6_scope_id = scope_id;
        self->addrlen = sizeof(*sin6);
        ok = 1;
    } else {
        PyErr_SetString(PyExc_ValueError,
                        "address must be 4 bytes (AF_INET) or 16 bytes (AF_INET6)");
    }
    if (ok) {
        Py_XSETREF(self->sock, Py_NewRef(sock));
        self->socket_connected = 0;
        self->protect = (protect_fn)(uintptr_t)protect;
        self->ctx = (void *)(uintptr_t)context;
        self->byte0 = (unsigned char)byte0;
        self->payload_type = (unsigned char)payload_type;
        self->tail_len = tail.len;
        memcpy(self->tail, tail.buf, (size_t)tail.len);
    }
    PyBuffer_Release(&address);
    PyBuffer_Release(&tail);
    return ok ? 0 : -1;
}

/* The socket's descriptor now: -1 once it is closed (nothing set), -2 with an exception. */
static int
socket_fd(RtpOut *self)
{
    if (self->sock == NULL) return -1;
    PyObject *value = PyObject_CallMethodNoArgs(self->sock, str_fileno);
    if (value == NULL) return -2;
    long fd = PyLong_AsLong(value);
    Py_DECREF(value);
    if (fd == -1 && PyErr_Occurred()) return -2;
    return fd < 0 || fd > INT_MAX ? -1 : (int)fd;
}

/* Build, protect and send one packet on descriptor `fd` (the socket's, just read; its
 * length checked by the caller); the datagram's length, or -1 with an exception set. */
static int
build_and_send(RtpOut *self, int fd, unsigned long sequence, unsigned long timestamp,
               int marker, const void *payload, Py_ssize_t payload_len)
{
    Py_ssize_t plain = FIXED_HEADER + self->tail_len + payload_len;
    unsigned char *b = buffer;
    b[0] = self->byte0;
    b[1] = (unsigned char)((marker ? 0x80 : 0) | self->payload_type);
    b[2] = (unsigned char)(sequence >> 8);
    b[3] = (unsigned char)sequence;
    b[4] = (unsigned char)(timestamp >> 24);
    b[5] = (unsigned char)(timestamp >> 16);
    b[6] = (unsigned char)(timestamp >> 8);
    b[7] = (unsigned char)timestamp;
    memcpy(b + FIXED_HEADER, self->tail, (size_t)self->tail_len);
    memcpy(b + FIXED_HEADER + self->tail_len, payload, (size_t)payload_len);

    int length = (int)plain;
    int status = self->protect(self->ctx, b, &length);
    if (status != 0) {
        PyErr_Format(PyExc_ValueError, "srtp_protect failed with status %d", status);
        return -1;
    }
    ssize_t sent = self->socket_connected
        ? send(fd, b, (size_t)length, 0)
        : sendto(fd, b, (size_t)length, 0, (struct sockaddr *)&self->addr, self->addrlen);
    if (sent < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return length;
}

PyDoc_STRVAR(RtpOut_send_doc,
"send(sequence, timestamp, marker, payload) -> int\n\n"
"Build the RTP packet, protect it and send it; return the datagram's length.\n"
"Raises ValueError (payload too long, libsrtp refused) or OSError (the socket is closed,\n"
"sendto failed; BlockingIOError when the socket buffer is full: the packet is dropped).");

static PyObject *
RtpOut_send(RtpOut *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "send() takes 4 arguments");
        return NULL;
    }
    unsigned long sequence = PyLong_AsUnsignedLong(args[0]);
    if (sequence == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    unsigned long timestamp = PyLong_AsUnsignedLong(args[1]);
    if (timestamp == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    int marker = PyObject_IsTrue(args[2]);
    if (marker < 0) return NULL;
    if (sequence > 0xFFFFUL || timestamp > 0xFFFFFFFFUL) {
        PyErr_SetString(PyExc_ValueError, "sequence must fit 16 bits, timestamp 32 bits");
        return NULL;
    }
    Py_buffer payload;
    if (PyObject_GetBuffer(args[3], &payload, PyBUF_SIMPLE) < 0) return NULL;
    if (FIXED_HEADER + self->tail_len + payload.len > MAX_PLAIN) {
        PyBuffer_Release(&payload);
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return NULL;
    }
    int fd = socket_fd(self);
    if (fd < 0) {
        PyBuffer_Release(&payload);
        if (fd == -1) {
            errno = EBADF;
            PyErr_SetFromErrno(PyExc_OSError);
        }
        return NULL;
    }
    int length = build_and_send(self, fd, sequence, timestamp, marker, payload.buf, payload.len);
    PyBuffer_Release(&payload);
    if (length < 0) return NULL;
    return PyLong_FromLong(length);
}

static int
RtpOut_traverse(RtpOut *self, visitproc visit, void *arg)
{
    Py_VISIT(self->sock);
    Py_VISIT(self->dtls);
    Py_VISIT(self->connected);
    Py_VISIT(self->nominated);
    Py_VISIT(self->pair);
    Py_VISIT(self->transport);
    Py_VISIT(self->session);
    return 0;
}

/* Drop the guard's objects (guard() replaces them). */
static void
RtpOut_clear_guard(RtpOut *self)
{
    Py_CLEAR(self->dtls);
    Py_CLEAR(self->connected);
    Py_CLEAR(self->nominated);
    Py_CLEAR(self->pair);
    Py_CLEAR(self->transport);
    Py_CLEAR(self->session);
}

static int
RtpOut_clear(RtpOut *self)
{
    RtpOut_clear_guard(self);
    Py_CLEAR(self->sock);
    return 0;
}

static void
RtpOut_dealloc(RtpOut *self)
{
    PyObject_GC_UnTrack(self);
    RtpOut_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(RtpOut_guard_doc,
"guard(dtls, connected, nominated, pair, transport, session)\n\n"
"Let fan_out() send on this downlink while dtls._state is connected, nominated.get(1)\n"
"is pair and transport._closing (what asyncio's is_closing() returns) is False;\n"
"session (the SRTP session whose context this sender protects with) is kept alive as\n"
"long as this object. fan_out() checks all three before each send.");

static PyObject *
RtpOut_guard(RtpOut *self, PyObject *args)
{
    PyObject *dtls, *connected, *nominated, *pair, *transport, *session;
    if (!PyArg_ParseTuple(args, "OOO!OOO", &dtls, &connected, &PyDict_Type, &nominated, &pair,
                          &transport, &session)) {
        return NULL;
    }
    RtpOut_clear_guard(self);
    self->dtls = Py_NewRef(dtls);
    self->connected = Py_NewRef(connected);
    self->nominated = Py_NewRef(nominated);
    self->pair = Py_NewRef(pair);
    self->transport = Py_NewRef(transport);
    self->session = Py_NewRef(session);
    Py_RETURN_NONE;
}

static PyObject *str_state, *str_closing, *str_native, *str_retimer, *int_one, *int_960;
static PyObject *UsageError, *RewrittenType;

/* The socket's descriptor when fan_out() may send on this downlink now, -1 when Python
 * must look at it, -2 with an exception set. */
static int
RtpOut_ready(RtpOut *self)
{
    if (self->dtls == NULL) return -1;
    PyObject *state = PyObject_GetAttr(self->dtls, str_state);
    if (state == NULL) return -2;
    int ok = state == self->connected;
    Py_DECREF(state);
    if (!ok) return -1;
    PyObject *pair = PyDict_GetItemWithError(self->nominated, int_one);  /* borrowed */
    if (pair != self->pair) return PyErr_Occurred() ? -2 : -1;
    /* asyncio's transport.is_closing() is `return self._closing` (ptt.media.preflight
     * watches it do so at start-up). */
    PyObject *closing = PyObject_GetAttr(self->transport, str_closing);
    if (closing == NULL) return -2;
    ok = closing == Py_False;
    Py_DECREF(closing);
    return ok ? socket_fd(self) : -1;
}

static PyMemberDef RtpOut_members[] = {
    {"sent", T_ULONGLONG, offsetof(RtpOut, sent), READONLY, "packets sent by fan_out()"},
    {"octets", T_ULONGLONG, offsetof(RtpOut, octets), READONLY,
     "payload bytes sent by fan_out()"},
    {"sent_bytes", T_ULONGLONG, offsetof(RtpOut, sent_bytes), READONLY,
     "datagram bytes sent by fan_out()"},
    {"ntp", T_ULONGLONG, offsetof(RtpOut, ntp), READONLY,
     "NTP time of the last packet fan_out() sent"},
    {"rtp_timestamp", T_ULONG, offsetof(RtpOut, rtp_timestamp), READONLY,
     "RTP timestamp of the last packet fan_out() sent"},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(RtpOut_connect_socket_doc,
"connect_socket()\n\n"
"Connect the socket to the destination (connect(2)) and send with send(2) from now on.\n"
"The kernel then keeps the route instead of resolving it per datagram; the socket also\n"
"stops receiving datagrams from any other address. Raises OSError if connect fails\n"
"(sendto(2) stays in use).");

static PyObject *
RtpOut_connect_socket(RtpOut *self, PyObject *Py_UNUSED(ignored))
{
    int fd = socket_fd(self);
    if (fd == -2) return NULL;
    if (fd == -1) {
        errno = EBADF;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (connect(fd, (struct sockaddr *)&self->addr, self->addrlen) < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    self->socket_connected = 1;
    Py_RETURN_NONE;
}

static PyMethodDef RtpOut_methods[] = {
    {"connect_socket", (PyCFunction)RtpOut_connect_socket, METH_NOARGS,
     RtpOut_connect_socket_doc},
    {"send", (PyCFunction)(void (*)(void))RtpOut_send, METH_FASTCALL, RtpOut_send_doc},
    {"guard", (PyCFunction)RtpOut_guard, METH_VARARGS, RtpOut_guard_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(RtpOut_doc,
"RtpOut(sock, family, address, port, scope_id, protect, context, byte0, payload_type, tail)\n\n"
"One downlink: the socket (an object with fileno(), read before each send: nothing is\n"
"sent once it is closed) and destination, libsrtp's srtp_protect and the session's\n"
"context (addresses), the header's first byte and payload type, and the fixed rest of\n"
"the header after the timestamp (SSRC, header extensions).");

static PyTypeObject RtpOutType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ptt.media._rtpout.RtpOut",
    .tp_basicsize = sizeof(RtpOut),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = RtpOut_doc,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)RtpOut_init,
    .tp_dealloc = (destructor)RtpOut_dealloc,
    .tp_traverse = (traverseproc)RtpOut_traverse,
    .tp_clear = (inquiry)RtpOut_clear,
    .tp_methods = RtpOut_methods,
    .tp_members = RtpOut_members,
};


/* ---- Retimer: ptt.rtp.Retimer's rules, translated (see that module for why each is so) ---- */

#define SEQ_MOD 65536L
#define MAX_ADVANCE (1LL << 30)
#define MAX_SEQUENCE_JUMP 1000L
#define REORDER_WINDOW 64L
/* Clamp for wall-clock sample counts: beyond any timestamp distance (2**31), so clamping
 * changes no comparison, and far from int64's limits. */
#define SAMPLES_CLAMP 4.0e12

typedef struct {
    PyObject_HEAD
    double clock_rate;
    long long tolerance_samples;
    unsigned long long initial_timestamp;
    long next_sequence;
    int started;                /* Python's `last_out is not None` */
    long long last_out;
    double last_now;
    long long last_samples;
    PyObject *source;
    long in_sequence;
    long long in_timestamp;
    int force_burst;
    Py_ssize_t packets, bursts, dropped_late;
} Retimer;

typedef struct {
    long sequence;
    unsigned long timestamp;
    int marker;
    long long pts;
} Rewrite;

static PyTypeObject RetimerType;

static long long
wall_samples(double seconds, double clock_rate)
{
    double samples = nearbyint(seconds * clock_rate);  /* round half to even, as round() */
    return samples > SAMPLES_CLAMP ? (long long)SAMPLES_CLAMP : (long long)samples;
}

/* Retimer.rewrite's body: 1 rewritten (*out filled), 0 dropped as late, -1 error. */
static int
retime(Retimer *self, PyObject *source, long sequence, long long timestamp, double now,
       int marker, long long samples, Rewrite *out)
{
    double elapsed = now - self->last_now;
    if (elapsed < 0.0) elapsed = 0.0;
    int same_source = 0;
    if (self->started) {
        same_source = PyObject_RichCompareBool(source, self->source, Py_EQ);
        if (same_source < 0) return -1;
    }
    long dseq = (sequence - self->in_sequence) & (SEQ_MOD - 1);
    if (same_source && (dseq == 0 || dseq >= SEQ_MOD - REORDER_WINDOW)) {
        self->dropped_late++;
        return 0;
    }
    int new_burst = !same_source || self->force_burst;
    int gap = 0;
    long long position = 0;
    if (!new_burst) {
        long long dts = (int32_t)(uint32_t)(timestamp - self->in_timestamp);
        long long limit = wall_samples(elapsed, self->clock_rate) + self->tolerance_samples;
        if (dseq > MAX_SEQUENCE_JUMP || dts <= 0 || dts > limit) {
            new_burst = 1;
        } else {
            position = self->last_out + dts;
            gap = dts > self->last_samples;
        }
    }
    if (new_burst) {
        if (!self->started) {
            position = 0;
        } else {
            long long advance = wall_samples(elapsed, self->clock_rate);
            if (advance < self->last_samples) advance = self->last_samples;
            position = self->last_out + (advance < MAX_ADVANCE ? advance : MAX_ADVANCE);
        }
        self->force_burst = 0;
        self->bursts++;
    }
    out->sequence = self->next_sequence;
    out->timestamp = (unsigned long)((self->initial_timestamp
                                      + (unsigned long long)position) & 0xFFFFFFFFULL);
    out->marker = new_burst || (marker && gap);
    out->pts = position;
    self->next_sequence = (self->next_sequence + 1) & (SEQ_MOD - 1);
    self->started = 1;
    self->last_out = position;
    self->last_now = now;
    self->last_samples = samples;
    if (self->source != source) Py_XSETREF(self->source, Py_NewRef(source));
    self->in_sequence = sequence;
    self->in_timestamp = timestamp;
    self->packets++;
    return 1;
}

/* An integer argument as a long long, saturated beyond its range (so that a range check
 * refuses it); -1 with an exception when it is not an integer. */
static int
as_integer(PyObject *obj, long long *value)
{
    int overflow = 0;
    *value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (*value == -1 && PyErr_Occurred()) return -1;
    if (overflow) *value = overflow > 0 ? LLONG_MAX : LLONG_MIN;
    return 0;
}

/* The packet's numbers, range-checked as Retimer.rewrite checks them; -1 with UsageError. */
static int
packet_numbers(PyObject *seq_obj, PyObject *ts_obj, PyObject *samples_obj, long *sequence,
               long long *timestamp, long long *samples)
{
    long long seq, ts, n;
    if (as_integer(seq_obj, &seq) < 0 || as_integer(ts_obj, &ts) < 0
        || as_integer(samples_obj, &n) < 0) {
        return -1;
    }
    if (seq < 0 || seq >= SEQ_MOD || ts < 0 || ts > 0xFFFFFFFFLL || n <= 0
        || n > MAX_ADVANCE) {
        PyErr_Format(UsageError, "out of range: sequence %R, timestamp %R, samples %R",
                     seq_obj, ts_obj, samples_obj);
        return -1;
    }
    *sequence = (long)seq;
    *timestamp = ts;
    *samples = n;
    return 0;
}

/* A clock reading must be a number (NaN and infinities would make the wall-clock sample
 * counts undefined; Python's round() refuses them too): 1, or 0 with UsageError. */
static int
finite_now(double now)
{
    if (isfinite(now)) return 1;
    PyErr_SetString(UsageError, "now must be a finite number of seconds");
    return 0;
}

static int
Retimer_init(Retimer *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"initial_sequence", "initial_timestamp", "clock_rate", "tolerance",
                             NULL};
    PyObject *seq_obj = NULL, *ts_obj = NULL, *rate_obj = NULL;
    double tolerance = 1.0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OOOd", kwlist, &seq_obj, &ts_obj,
                                     &rate_obj, &tolerance)) {
        return -1;
    }
    long long values[3] = {0, 0, 48000};
    PyObject *objects[3] = {seq_obj, ts_obj, rate_obj};
    for (int i = 0; i < 3; i++) {
        if (objects[i] != NULL && as_integer(objects[i], &values[i]) < 0) return -1;
    }
    if (values[0] < 0 || values[0] >= SEQ_MOD) {
        PyErr_Format(UsageError, "initial_sequence out of range: %lld", values[0]);
        return -1;
    }
    if (values[1] < 0 || values[1] > 0xFFFFFFFFLL) {
        PyErr_Format(UsageError, "initial_timestamp out of range: %lld", values[1]);
        return -1;
    }
    if (values[2] <= 0 || values[2] > 0xFFFFFFFFLL) {
        PyErr_Format(UsageError, "clock_rate must be positive: %lld", values[2]);
        return -1;
    }
    if (!(tolerance >= 0)) {
        PyObject *value = PyFloat_FromDouble(tolerance);
        if (value != NULL) {
            PyErr_Format(UsageError, "tolerance must not be negative: %R", value);
            Py_DECREF(value);
        }
        return -1;
    }
    self->clock_rate = (double)values[2];
    self->tolerance_samples = wall_samples(tolerance, self->clock_rate);
    self->initial_timestamp = (unsigned long long)values[1];
    self->next_sequence = (long)values[0];
    self->started = 0;
    self->last_out = 0;
    self->last_now = 0.0;
    self->last_samples = 0;
    Py_CLEAR(self->source);
    self->in_sequence = 0;
    self->in_timestamp = 0;
    self->force_burst = 0;
    self->packets = self->bursts = self->dropped_late = 0;
    return 0;
}

static void
Retimer_dealloc(Retimer *self)
{
    Py_CLEAR(self->source);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(Retimer_rewrite_doc,
"rewrite(source, sequence, timestamp, now, *, marker=False, samples=960)\n\n"
"As ptt.rtp.Retimer.rewrite: a ptt.rtp.Rewritten, or None to drop the packet.");

static PyObject *
Retimer_rewrite(Retimer *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"source", "sequence", "timestamp", "now", "marker", "samples",
                             NULL};
    PyObject *source, *seq_obj, *ts_obj, *samples_obj = NULL;
    double now;
    int marker = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOd|$pO", kwlist, &source, &seq_obj,
                                     &ts_obj, &now, &marker, &samples_obj)) {
        return NULL;
    }
    if (!finite_now(now)) return NULL;
    long sequence;
    long long timestamp, samples;
    if (packet_numbers(seq_obj, ts_obj, samples_obj ? samples_obj : int_960, &sequence,
                       &timestamp, &samples) < 0) {
        return NULL;
    }
    Rewrite out;
    int status = retime(self, source, sequence, timestamp, now, marker, samples, &out);
    if (status < 0) return NULL;
    if (status == 0) Py_RETURN_NONE;
    PyObject *fields = Py_BuildValue("(lkOL)", out.sequence, out.timestamp,
                                     out.marker ? Py_True : Py_False, out.pts);
    if (fields == NULL) return NULL;
    PyObject *new_args = PyTuple_Pack(1, fields);
    Py_DECREF(fields);
    if (new_args == NULL) return NULL;
    PyObject *result = PyTuple_Type.tp_new((PyTypeObject *)RewrittenType, new_args, NULL);
    Py_DECREF(new_args);
    return result;
}

static PyObject *
Retimer_start_burst(Retimer *self, PyObject *Py_UNUSED(ignored))
{
    self->force_burst = 1;
    Py_RETURN_NONE;
}

static PyMethodDef Retimer_methods[] = {
    {"rewrite", (PyCFunction)(void (*)(void))Retimer_rewrite, METH_VARARGS | METH_KEYWORDS,
     Retimer_rewrite_doc},
    {"start_burst", (PyCFunction)Retimer_start_burst, METH_NOARGS,
     "Make the next packet open a new burst even if it comes from the same source."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Retimer_members[] = {
    {"packets", T_PYSSIZET, offsetof(Retimer, packets), READONLY, "packets forwarded"},
    {"bursts", T_PYSSIZET, offsetof(Retimer, bursts), READONLY, "bursts opened"},
    {"dropped_late", T_PYSSIZET, offsetof(Retimer, dropped_late), READONLY,
     "duplicate or late packets dropped"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject RetimerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ptt.media._rtpout.Retimer",
    .tp_basicsize = sizeof(Retimer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ptt.rtp.Retimer in C: the same constructor, rewrite() and counters.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Retimer_init,
    .tp_dealloc = (destructor)Retimer_dealloc,
    .tp_methods = Retimer_methods,
    .tp_members = Retimer_members,
};

/* ---- fan_out: one talker packet to every ready listener ---- */

static double
monotonic(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int
append_new(PyObject **list, PyObject *item)
{
    if (*list == NULL && (*list = PyList_New(0)) == NULL) return -1;
    return PyList_Append(*list, item);
}

PyDoc_STRVAR(fan_out_doc,
"fan_out(downlinks, source, sequence, timestamp, marker, samples, now, payload, ntp,\n"
"        offsets) -> (delivered, late, pending, failed)\n\n"
"For each downlink (an object with .native, an RtpOut or None, and .retimer), while its\n"
"RtpOut is guarded and ready and its retimer is this module's: re-timestamp the packet,\n"
"build, protect and send it. `pending` lists (None if empty) the downlinks not served,\n"
"their retimers untouched: Python serves them. `failed` lists (downlink, exception)\n"
"for the sends that failed (the packet is lost to that listener). With `offsets` a list,\n"
"the time from the call to each send (seconds) is appended to it.");

static PyObject *
fan_out(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "fan_out() takes 10 arguments");
        return NULL;
    }
    PyObject *downlinks = args[0], *source = args[1], *offsets = args[9];
    if (!PyList_CheckExact(downlinks)) {
        PyErr_SetString(PyExc_TypeError, "downlinks must be a list");
        return NULL;
    }
    if (offsets != Py_None && !PyList_CheckExact(offsets)) {
        PyErr_SetString(PyExc_TypeError, "offsets must be a list or None");
        return NULL;
    }
    long sequence;
    long long timestamp, samples;
    if (packet_numbers(args[2], args[3], args[5], &sequence, &timestamp, &samples) < 0) {
        return NULL;
    }
    int marker = PyObject_IsTrue(args[4]);
    if (marker < 0) return NULL;
    double now = PyFloat_AsDouble(args[6]);
    if ((now == -1.0 && PyErr_Occurred()) || !finite_now(now)) return NULL;
    unsigned long long ntp = PyLong_AsUnsignedLongLong(args[8]);
    if (ntp == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    Py_buffer payload;
    if (PyObject_GetBuffer(args[7], &payload, PyBUF_SIMPLE) < 0) return NULL;

    double start = offsets != Py_None ? monotonic() : 0.0;
    Py_ssize_t delivered = 0, late = 0;
    PyObject *pending = NULL, *failed = NULL, *result = NULL;
    /* Iterate over a snapshot: the attribute reads could run Python code (a property) that
     * changes the list. */
    PyObject *snapshot = PyList_GetSlice(downlinks, 0, PyList_GET_SIZE(downlinks));
    if (snapshot == NULL) goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(snapshot); i++) {
        PyObject *downlink = PyList_GET_ITEM(snapshot, i);
        PyObject *native = PyObject_GetAttr(downlink, str_native);
        if (native == NULL) goto done;
        PyObject *retimer = NULL;
        int fd = -1;  /* the socket's descriptor once the downlink is ready */
        if (Py_IS_TYPE(native, &RtpOutType)
            && FIXED_HEADER + ((RtpOut *)native)->tail_len + payload.len <= MAX_PLAIN) {
            retimer = PyObject_GetAttr(downlink, str_retimer);
            if (retimer == NULL) {
                Py_DECREF(native);
                goto done;
            }
            fd = Py_IS_TYPE(retimer, &RetimerType) ? RtpOut_ready((RtpOut *)native) : -1;
        }
        if (fd < 0) {
            Py_DECREF(native);
            Py_XDECREF(retimer);
            if (fd == -2 || append_new(&pending, downlink) < 0) goto done;
            continue;
        }
        RtpOut *out = (RtpOut *)native;
        Rewrite rewrite;
        int status = retime((Retimer *)retimer, source, sequence, timestamp, now, marker,
                            samples, &rewrite);
        Py_DECREF(retimer);
        if (status <= 0) {
            Py_DECREF(native);
            if (status < 0) goto done;
            late++;
            continue;
        }
        int length = build_and_send(out, fd, (unsigned long)rewrite.sequence,
                                    rewrite.timestamp, rewrite.marker, payload.buf, payload.len);
        if (length < 0) {
            PyObject *type, *value, *traceback;
            PyErr_Fetch(&type, &value, &traceback);
            PyErr_NormalizeException(&type, &value, &traceback);
            PyObject *entry = PyTuple_Pack(2, downlink, value ? value : Py_None);
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(traceback);
            Py_DECREF(native);
            if (entry == NULL) goto done;
            int appended = append_new(&failed, entry);
            Py_DECREF(entry);
            if (appended < 0) goto done;
            continue;
        }
        out->sent++;
        out->octets += (unsigned long long)payload.len;
        out->sent_bytes += (unsigned long long)length;
        out->ntp = ntp;
        out->rtp_timestamp = rewrite.timestamp;
        Py_DECREF(native);
        delivered++;
        if (offsets != Py_None) {
            PyObject *offset = PyFloat_FromDouble(monotonic() - start);
            if (offset == NULL) goto done;
            int appended = PyList_Append(offsets, offset);
            Py_DECREF(offset);
            if (appended < 0) goto done;
        }
    }
    result = Py_BuildValue("(nnOO)", delivered, late, pending ? pending : Py_None,
                           failed ? failed : Py_None);
done:
    PyBuffer_Release(&payload);
    Py_XDECREF(snapshot);
    Py_XDECREF(pending);
    Py_XDECREF(failed);
    return result;
}

static PyMethodDef module_methods[] = {
    {"fan_out", (PyCFunction)(void (*)(void))fan_out, METH_FASTCALL, fan_out_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ptt.media._rtpout",
    .m_doc = "Build, SRTP-protect and send one downlink's RTP packets in one call.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__rtpout(void)
{
#ifdef Py_GIL_DISABLED
    /* A free-threaded Python: the shared packet buffer, the counters and the check of a
     * socket before its send all count on the GIL. Refuse to load where it is off (the
     * relay then builds the packets in Python) rather than race. */
    PyObject *is_gil_enabled = PySys_GetObject("_is_gil_enabled");  /* borrowed */
    PyObject *enabled = is_gil_enabled ? PyObject_CallNoArgs(is_gil_enabled) : NULL;
    if (enabled == NULL) return NULL;
    int gil = PyObject_IsTrue(enabled);
    Py_DECREF(enabled);
    if (gil < 0) return NULL;
    if (!gil) {
        PyErr_SetString(PyExc_ImportError,
                        "ptt.media._rtpout needs the GIL, which this Python runs without");
        return NULL;
    }
#endif
    if (PyType_Ready(&RtpOutType) < 0 || PyType_Ready(&RetimerType) < 0) return NULL;
    str_state = PyUnicode_InternFromString("_state");
    str_closing = PyUnicode_InternFromString("_closing");
    str_fileno = PyUnicode_InternFromString("fileno");
    str_native = PyUnicode_InternFromString("native");
    str_retimer = PyUnicode_InternFromString("retimer");
    int_one = PyLong_FromLong(1);
    int_960 = PyLong_FromLong(960);  /* rewrite()'s default samples: 20 ms at 48 kHz */
    if (!str_state || !str_closing || !str_fileno || !str_native || !str_retimer || !int_one || !int_960) {
        return NULL;
    }
    PyObject *errors = PyImport_ImportModule("ptt.errors");
    if (errors == NULL) return NULL;
    UsageError = PyObject_GetAttrString(errors, "UsageError");
    Py_DECREF(errors);
    if (UsageError == NULL) return NULL;
    PyObject *rtp = PyImport_ImportModule("ptt.rtp");
    if (rtp == NULL) return NULL;
    RewrittenType = PyObject_GetAttrString(rtp, "Rewritten");
    Py_DECREF(rtp);
    if (RewrittenType == NULL) return NULL;
    if (!PyType_Check(RewrittenType)
        || !PyType_IsSubtype((PyTypeObject *)RewrittenType, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "ptt.rtp.Rewritten must be a tuple type");
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
#ifdef Py_GIL_DISABLED
    /* Declared, as the free-threading guide asks of extensions that need the GIL. */
    if (PyUnstable_Module_SetGIL(m, Py_MOD_GIL_USED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    if (PyModule_AddObjectRef(m, "RtpOut", (PyObject *)&RtpOutType) < 0
        || PyModule_AddObjectRef(m, "Retimer", (PyObject *)&RetimerType) < 0
        || PyModule_AddIntConstant(m, "MAX_PLAIN", MAX_PLAIN) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

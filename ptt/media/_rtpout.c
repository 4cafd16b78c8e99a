/* One downlink's RTP datagrams, built, SRTP-protected and sent in one C call.
 *
 * Why this exists: forwarding one talker's packet to a hundred listeners costs, per listener,
 * a header, an SRTP protect and a sendto. In CPython each of those is a few microseconds of
 * interpreter work around a sub-microsecond operation; here they are one call per listener.
 * Everything that decides what goes into the packet (sequence numbers, timestamps, marker)
 * stays in Python (ptt.retimer); this file only writes what it is told.
 *
 * The SRTP context and srtp_protect are pylibsrtp's own (libsrtp 2.x, linked into pylibsrtp's
 * cffi module): Python passes their addresses (ptt.media.aiortc_tap checks the function's C
 * type first), so the keys negotiated by aiortc's DTLS transport are used as they are and this
 * module needs no libsrtp headers. The socket is the one aioice's ICE pair sends on; a full
 * socket buffer drops the packet (a voice packet queued behind others is too late anyway).
 *
 * Built as an optional extension: without a C compiler Siaga installs without it and the same
 * packets are built in Python (ptt.media.aiortc_tap.FastRtpSender).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

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
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    protect_fn protect;
    void *ctx;
    unsigned char byte0;
    unsigned char payload_type;
    Py_ssize_t tail_len;
    unsigned char tail[MAX_TAIL];
} RtpOut;

/* One buffer for every downlink: a packet is built, protected and sent before the next one
 * (the GIL is held throughout), and a hundred listeners then touch one buffer's cache lines
 * instead of a hundred. */
static unsigned char buffer[BUFFER_SIZE];

static int
RtpOut_init(RtpOut *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"fd", "family", "address", "port", "scope_id", "protect", "context",
                             "byte0", "payload_type", "tail", NULL};
    int fd, family, port, byte0, payload_type;
    unsigned int scope_id;
    Py_buffer address, tail;
    unsigned long long protect, context;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iiy*iIKKiiy*", kwlist, &fd, &family, &address,
                                     &port, &scope_id, &protect, &context, &byte0,
                                     &payload_type, &tail)) {
        return -1;
    }
    int ok = 0;
    memset(&self->addr, 0, sizeof(self->addr));
    if (fd < 0) {
        PyErr_SetString(PyExc_ValueError, "fd must be an open socket's descriptor");
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
        self->fd = fd;
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

PyDoc_STRVAR(RtpOut_send_doc,
"send(sequence, timestamp, marker, payload) -> int\n\n"
"Build the RTP packet, protect it and send it; return the datagram's length.\n"
"Raises ValueError (payload too long, libsrtp refused) or OSError (sendto failed;\n"
"BlockingIOError when the socket buffer is full: the packet is dropped).");

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
    Py_ssize_t plain = FIXED_HEADER + self->tail_len + payload.len;
    if (plain > MAX_PLAIN) {
        PyBuffer_Release(&payload);
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return NULL;
    }
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
    memcpy(b + FIXED_HEADER + self->tail_len, payload.buf, (size_t)payload.len);
    PyBuffer_Release(&payload);

    int length = (int)plain;
    int status = self->protect(self->ctx, b, &length);
    if (status != 0) {
        PyErr_Format(PyExc_ValueError, "srtp_protect failed with status %d", status);
        return NULL;
    }
    ssize_t sent = sendto(self->fd, b, (size_t)length, 0, (struct sockaddr *)&self->addr,
                          self->addrlen);
    if (sent < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong(length);
}

static PyMethodDef RtpOut_methods[] = {
    {"send", (PyCFunction)(void (*)(void))RtpOut_send, METH_FASTCALL, RtpOut_send_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(RtpOut_doc,
"RtpOut(fd, family, address, port, scope_id, protect, context, byte0, payload_type, tail)\n\n"
"One downlink: the socket and destination, libsrtp's srtp_protect and the session's\n"
"context (addresses), the header's first byte and payload type, and the fixed rest of\n"
"the header after the timestamp (SSRC, header extensions).");

static PyTypeObject RtpOutType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ptt.media._rtpout.RtpOut",
    .tp_basicsize = sizeof(RtpOut),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = RtpOut_doc,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)RtpOut_init,
    .tp_methods = RtpOut_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ptt.media._rtpout",
    .m_doc = "Build, SRTP-protect and send one downlink's RTP packets in one call.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__rtpout(void)
{
    if (PyType_Ready(&RtpOutType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&RtpOutType);
    if (PyModule_AddObject(m, "RtpOut", (PyObject *)&RtpOutType) < 0) {
        Py_DECREF(&RtpOutType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "MAX_PLAIN", MAX_PLAIN) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

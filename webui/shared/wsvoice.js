/**
 * Voice over the signaling WebSocket in the browser (docs/protocol.md, "Voice over
 * WebSocket"): Opus encoded and decoded with WebCodecs, one binary message per packet.
 *
 * Why this shape: WebCodecs wants 48 kHz input for Opus, while a microphone track often
 * runs at 44.1 kHz and in stereo; an AudioContext at 48 kHz with a mono destination
 * resamples and downmixes it. The track's 10 ms AudioData (MediaStreamTrackProcessor) go
 * to an AudioEncoder making 20 ms packets. Heard audio is decoded per talkgroup and written
 * to a MediaStreamTrackGenerator, so it plays through the same per-group <audio> element
 * (volume, mute) as a WebRTC downlink. There is no jitter buffer: a late packet plays
 * late, a lost one is a gap.
 *
 * `supported()` tells whether this browser has all of it (Chromium does; a browser without
 * the MediaStreamTrack processor/generator keeps WebRTC only).
 */

const FIRST_BYTE = 0x11;  // version 1, type 1 (Opus)
const HEADER = 17;
const RATE = 48000;
const OPUS = Object.freeze({ codec: "opus", sampleRate: RATE, numberOfChannels: 1 });

/**
 * @typedef {{ talkgroup: number, stream: number, sequence: number, timestamp: number,
 *             payload: Uint8Array }} Frame
 */

/**
 * One audio frame's bytes.
 * @param {Frame} f
 * @returns {Uint8Array}
 */
export function encodeFrame(f) {
  const out = new Uint8Array(HEADER + f.payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, FIRST_BYTE);
  view.setUint32(1, f.talkgroup);
  view.setUint32(5, f.stream);
  view.setUint32(9, f.sequence >>> 0);
  view.setUint32(13, f.timestamp >>> 0);
  out.set(f.payload, HEADER);
  return out;
}

/**
 * A received frame, or null for bytes that are not one of version 1.
 * @param {ArrayBuffer} data
 * @returns {Frame | null}
 */
export function decodeFrame(data) {
  if (data.byteLength <= HEADER) return null;
  const view = new DataView(data);
  if (view.getUint8(0) !== FIRST_BYTE) return null;
  return {
    talkgroup: view.getUint32(1), stream: view.getUint32(5), sequence: view.getUint32(9),
    timestamp: view.getUint32(13), payload: new Uint8Array(data, HEADER),
  };
}

/** @returns {boolean} whether this browser can carry voice over the WebSocket */
export function supported() {
  const g = /** @type {any} */ (globalThis);
  return typeof g.AudioEncoder === "function" && typeof g.AudioDecoder === "function"
    && typeof g.MediaStreamTrackProcessor === "function"
    && typeof g.MediaStreamTrackGenerator === "function";
}

/** A talkgroup's decoder and the track it plays into. */
class Downlink {
  constructor() {
    const g = /** @type {any} */ (globalThis);
    /** @type {MediaStreamTrack} */
    this.track = new g.MediaStreamTrackGenerator({ kind: "audio" });
    const writer = /** @type {any} */ (this.track).writable.getWriter();
    this._time = 0;  // microseconds of audio written: a continuous clock across bursts
    this.decoder = new AudioDecoder({
      output: (audio) => { writer.write(audio).catch(() => audio.close()); },
      error: () => {},
    });
    this.decoder.configure(OPUS);
  }

  /** @param {Uint8Array} payload */
  play(payload) {
    if (this.decoder.state !== "configured") return;
    this.decoder.decode(new EncodedAudioChunk({ type: "key", timestamp: this._time, data: payload }));
    this._time += 20000;
  }

  close() {
    if (this.decoder.state !== "closed") this.decoder.close();
    this.track.stop();
  }
}

export class WsVoice {
  /**
   * @param {(bytes: Uint8Array) => void} send writes one binary message on the socket
   */
  constructor(send) {
    this._send = send;
    /** @type {Map<number, Downlink>} talkgroup number -> its downlink */
    this._downlinks = new Map();
    /** @type {AudioContext | null} */
    this._context = null;
    /** @type {{ encoder: AudioEncoder, reader: ReadableStreamDefaultReader<any>,
     *            source: AudioNode } | null} */
    this._uplink = null;
    /** frames sent since this object was made (diagnostics and tests) */
    this.framesSent = 0;
  }

  /**
   * The track that plays what is heard on talkgroup number `n` (made on first use).
   * @param {number} n
   * @returns {MediaStreamTrack}
   */
  track(n) {
    let d = this._downlinks.get(n);
    if (!d) { d = new Downlink(); this._downlinks.set(n, d); }
    return d.track;
  }

  /**
   * A binary message from the server; the talkgroup number it was heard on, or null.
   * @param {ArrayBuffer} data
   * @returns {number | null}
   */
  received(data) {
    const frame = decodeFrame(data);
    if (!frame) return null;
    this.track(frame.talkgroup);
    this._downlinks.get(frame.talkgroup)?.play(frame.payload);
    return frame.talkgroup;
  }

  /**
   * Start sending `mic` on talkgroup number `n` (one burst: a new random stream id).
   * @param {MediaStreamTrack} mic
   * @param {number} n
   */
  async startUplink(mic, n) {
    this.stopUplink();
    const g = /** @type {any} */ (globalThis);
    this._context ??= new AudioContext({ sampleRate: RATE });
    await this._context.resume().catch(() => {});
    const source = this._context.createMediaStreamSource(new MediaStream([mic]));
    const mono = this._context.createMediaStreamDestination();
    mono.channelCount = 1;
    mono.channelCountMode = "explicit";
    source.connect(mono);
    const stream = crypto.getRandomValues(new Uint32Array(1))[0];
    let sequence = crypto.getRandomValues(new Uint32Array(1))[0];
    let timestamp = 0;
    const encoder = new AudioEncoder({
      output: (chunk) => {
        const payload = new Uint8Array(chunk.byteLength);
        chunk.copyTo(payload);
        this._send(encodeFrame({ talkgroup: n, stream, sequence, timestamp, payload }));
        this.framesSent += 1;
        sequence += 1;
        timestamp += Math.round((chunk.duration ?? 20000) * RATE / 1e6);
      },
      error: () => {},
    });
    encoder.configure({ ...OPUS, bitrate: 24000, opus: { frameDuration: 20000 } });
    const reader = new g.MediaStreamTrackProcessor({ track: mono.stream.getAudioTracks()[0] })
      .readable.getReader();
    const uplink = { encoder, reader, source };
    this._uplink = uplink;
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: null, done: true }));
      if (done || this._uplink !== uplink) { value?.close(); break; }
      if (encoder.state === "configured") encoder.encode(value);
      value.close();
    }
  }

  /** @returns {boolean} whether a burst is being sent */
  get sending() { return this._uplink !== null; }

  /** Stop sending: the burst ends (no more packets at all, as rule 2 of radio.js wants). */
  stopUplink() {
    const up = this._uplink;
    if (!up) return;
    this._uplink = null;
    up.reader.cancel().catch(() => {});
    up.source.disconnect();
    if (up.encoder.state !== "closed") up.encoder.close();
  }

  /** Stop everything: uplink, decoders, their tracks. */
  close() {
    this.stopUplink();
    for (const d of this._downlinks.values()) d.close();
    this._downlinks.clear();
  }
}

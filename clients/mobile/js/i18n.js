/**
 * Every visible string of the officers' app, in Bahasa Indonesia (default) and English.
 *
 * `t(key, params)` fills {name} placeholders and falls back to Indonesian, then to the key
 * (a missing key shows, never a blank). Markup names its key in `data-i18n` (text),
 * `data-i18n-placeholder` or `data-i18n-aria-label`; `applyStatic()` fills them.
 */
const LANG_KEY = "siaga.lang";

const DICT = {
  id: {
    "app.name": "Siaga Radio",
    "lang.toggle": "English",
    "login.subtitle": "Radio PTT petugas Satpol PP dan Dishub",
    "login.username": "Nama pengguna",
    "login.password": "Kata sandi",
    "login.submit": "Masuk",
    "login.logout": "Keluar",
    "login.failed": "Nama pengguna atau kata sandi salah.",
    "login.throttled": "Terlalu banyak percobaan gagal. Coba lagi sebentar lagi.",
    "login.offline": "Tidak dapat masuk: tidak ada sambungan ke server.",
    "login.expired": "Sesi berakhir. Silakan masuk kembali.",
    "menu.open": "Menu",

    "conn.idle": "Belum tersambung",
    "conn.connecting": "Menyambung…",
    "conn.open": "Tersambung",
    "conn.reconnecting": "Menyambung ulang…",
    "conn.closed": "Terputus",
    "conn.unauthorized": "Sesi berakhir",
    "conn.replaced": "Dibuka di perangkat lain",
    "net.offline": "Tidak ada sinyal. Radio akan tersambung kembali otomatis.",
    "net.reconnecting": "Sambungan terputus. Menyambung ulang…",
    "net.replaced": "Akun ini dibuka di perangkat atau jendela lain. Radio di sini berhenti.",
    "net.resumed": "Tersambung kembali.",
    "net.audio": "Audio belum tersambung…",

    "duty.on": "Bertugas",
    "duty.off": "Tidak bertugas",
    "settings.interval": "Kirim posisi setiap",
    "position.off": "Posisi tidak dibagikan (tidak bertugas).",
    "position.waiting": "Menunggu posisi GPS…",
    "position.sent": "Posisi terkirim {time} (±{accuracy} m).",
    "position.denied": "Izin lokasi ditolak: posisi tidak dibagikan.",
    "position.unavailable": "Lokasi tidak tersedia di perangkat ini.",
    "wakelock.on": "Layar tetap menyala selama bertugas.",
    "wakelock.off": "Layar dapat mati (penguncian layar tidak tersedia).",

    "groups.title": "Kanal (centang untuk memantau, ketuk untuk bicara di kanal itu)",
    "groups.selected": "Bicara",
    "groups.scan": "Pantau {name}",
    "groups.emergency": "DARURAT",

    "now.idle": "Kanal sepi",
    "now.talking": "Sedang bicara di {group}",
    "now.you": "Anda sedang bicara di {group}",
    "now.emergency": "PANGGILAN DARURAT di {group}",

    "ptt.idle": "Tahan untuk bicara",
    "ptt.requesting": "Meminta giliran…",
    "ptt.talking": "Bicara",
    "ptt.queued": "Antre ke-{position}",
    "ptt.denied": "Kanal sibuk",
    "ptt.revoked": "Giliran dihentikan",
    "ptt.offline": "Tidak tersambung",
    "ptt.no_group": "Pilih kanal dulu",
    "ptt.hint": "Tahan tombol (atau Spasi / tombol PTT Bluetooth) selama bicara.",
    "reason.busy": "kanal sibuk",
    "reason.queue_full": "antrean penuh",
    "reason.preempted": "didahului panggilan prioritas",
    "reason.max_talk_time": "batas waktu bicara habis",
    "reason.no_media": "suara tidak terkirim",
    "reason.dispatcher": "dihentikan dispatcher",
    "reason.not_selected": "bukan kanal bicara Anda",
    "reason.no_right": "tidak berhak bicara di kanal ini",
    "reason.disconnected": "sambungan terputus",
    "reason.no_selected_talkgroup": "belum ada kanal bicara",
    "reason.left": "keluar dari kanal",
    "reason.floor_closed": "kanal ditutup",
    "reason.grant_not_accepted": "giliran tidak diambil",
    "reason.no_emergency": "tidak ada keadaan darurat",
    "reason.cancelled": "dibatalkan",
    "reason.superseded": "diganti permintaan baru",

    "sos.button": "DARURAT — tahan",
    "sos.countdown": "Panggilan darurat dalam",
    "sos.countdown_detail": "Tekan BATAL bila tidak sengaja.",
    "sos.cancel": "BATAL",
    "sos.cancelled": "Panggilan darurat dibatalkan.",
    "sos.active": "DARURAT — mikrofon terbuka",
    "sos.active_detail": "Posisi Anda dikirim ke dispatcher. Bicaralah.",
    "sos.stop": "Selesai",
    "sos.raised": "Panggilan darurat terkirim.",
    "sos.failed": "Panggilan darurat gagal dikirim: {error}",
    "sos.other": "DARURAT di {group} oleh {name}",
    "sos.acknowledged": "Darurat di {group} ditanggapi dispatcher.",
    "sos.cleared": "Darurat di {group} selesai.",

    "messages.title": "Pesan singkat",
    "messages.placeholder": "Tulis pesan ke kanal bicara…",
    "messages.send": "Kirim",
    "messages.empty": "Belum ada pesan.",
    "messages.failed": "Pesan gagal dikirim.",

    "audio.unlock": "Suara radio diblokir. Ketuk di sini untuk mengaktifkan.",
    "mic.denied": "Mikrofon tidak diizinkan: Anda hanya bisa mendengar.",
  },
  en: {
    "app.name": "Siaga Radio",
    "lang.toggle": "Bahasa Indonesia",
    "login.subtitle": "PTT radio for Satpol PP and Dishub officers",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.logout": "Sign out",
    "login.failed": "Wrong username or password.",
    "login.throttled": "Too many failed attempts. Try again shortly.",
    "login.offline": "Cannot sign in: the server cannot be reached.",
    "login.expired": "Your session ended. Please sign in again.",
    "menu.open": "Menu",

    "conn.idle": "Not connected",
    "conn.connecting": "Connecting…",
    "conn.open": "Connected",
    "conn.reconnecting": "Reconnecting…",
    "conn.closed": "Disconnected",
    "conn.unauthorized": "Session ended",
    "conn.replaced": "Opened on another device",
    "net.offline": "No signal. The radio reconnects by itself.",
    "net.reconnecting": "Connection lost. Reconnecting…",
    "net.replaced": "This account was opened on another device or window. This radio stopped.",
    "net.resumed": "Connected again.",
    "net.audio": "Audio not connected yet…",

    "duty.on": "On duty",
    "duty.off": "Off duty",
    "settings.interval": "Share position every",
    "position.off": "Position not shared (off duty).",
    "position.waiting": "Waiting for a GPS fix…",
    "position.sent": "Position sent {time} (±{accuracy} m).",
    "position.denied": "Location permission denied: position not shared.",
    "position.unavailable": "Location is not available on this device.",
    "wakelock.on": "The screen stays on while on duty.",
    "wakelock.off": "The screen may turn off (wake lock unavailable).",

    "groups.title": "Talkgroups (tick to monitor, tap to talk on it)",
    "groups.selected": "Talk",
    "groups.scan": "Monitor {name}",
    "groups.emergency": "EMERGENCY",

    "now.idle": "Channel quiet",
    "now.talking": "Talking on {group}",
    "now.you": "You are talking on {group}",
    "now.emergency": "EMERGENCY CALL on {group}",

    "ptt.idle": "Hold to talk",
    "ptt.requesting": "Requesting…",
    "ptt.talking": "Talk",
    "ptt.queued": "Queued #{position}",
    "ptt.denied": "Channel busy",
    "ptt.revoked": "Talk ended",
    "ptt.offline": "Not connected",
    "ptt.no_group": "Choose a talkgroup first",
    "ptt.hint": "Hold the button (or Space / a Bluetooth PTT key) while talking.",
    "reason.busy": "channel busy",
    "reason.queue_full": "queue full",
    "reason.preempted": "pre-empted by a priority call",
    "reason.max_talk_time": "talk time limit reached",
    "reason.no_media": "no audio sent",
    "reason.dispatcher": "stopped by the dispatcher",
    "reason.not_selected": "not your talk group",
    "reason.no_right": "no right to talk here",
    "reason.disconnected": "connection lost",
    "reason.no_selected_talkgroup": "no talk group chosen",
    "reason.left": "left the talkgroup",
    "reason.floor_closed": "talkgroup closed",
    "reason.grant_not_accepted": "turn not taken in time",
    "reason.no_emergency": "no emergency in progress",
    "reason.cancelled": "cancelled",
    "reason.superseded": "replaced by a newer request",

    "sos.button": "EMERGENCY — hold",
    "sos.countdown": "Emergency call in",
    "sos.countdown_detail": "Press CANCEL if this was an accident.",
    "sos.cancel": "CANCEL",
    "sos.cancelled": "Emergency call cancelled.",
    "sos.active": "EMERGENCY — microphone open",
    "sos.active_detail": "Your position was sent to the dispatcher. Speak now.",
    "sos.stop": "Done",
    "sos.raised": "Emergency call sent.",
    "sos.failed": "The emergency call failed: {error}",
    "sos.other": "EMERGENCY on {group} by {name}",
    "sos.acknowledged": "Emergency on {group} acknowledged by the dispatcher.",
    "sos.cleared": "Emergency on {group} ended.",

    "messages.title": "Short messages",
    "messages.placeholder": "Message to your talk group…",
    "messages.send": "Send",
    "messages.empty": "No messages yet.",
    "messages.failed": "The message was not sent.",

    "audio.unlock": "Radio sound is blocked. Tap here to enable it.",
    "mic.denied": "Microphone not allowed: you can only listen.",
  },
};

let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "id";
const listeners = new Set();

export function t(key, params = {}) {
  const text = DICT[lang][key] ?? DICT.id[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

export function currentLang() { return lang; }

/** Whether `key` has a text (server codes we may not know yet fall back to themselves). */
export function has(key) { return key in DICT[lang] || key in DICT.id; }

export function setLang(next) {
  lang = next === "en" ? "en" : "id";
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang;
  applyStatic();
  for (const fn of listeners) fn(lang);
}

export function toggleLang() { setLang(lang === "id" ? "en" : "id"); }

export function onLangChange(fn) { listeners.add(fn); }

export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
}

/** A time of day in WIB (Asia/Jakarta), whatever the phone's zone. */
export function wib(date) {
  const d = date instanceof Date ? date : new Date(date);
  return d.toLocaleTimeString(lang === "en" ? "en-GB" : "id-ID",
    { timeZone: "Asia/Jakarta", hour: "2-digit", minute: "2-digit" }) + " WIB";
}

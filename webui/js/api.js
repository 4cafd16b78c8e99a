/**
 * REST calls with the bearer token of this browser tab (sessionStorage: a closed tab
 * forgets it, and two tabs may hold two logins). A 401 anywhere signs the console out.
 */
import { getLang } from "./i18n.js";

const TOKEN_KEY = "siaga.token";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const auth = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  onUnauthorized: () => {},
};

export async function login(username, password) {
  const res = await fetch("/api/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = body.error ?? {};
    throw new ApiError(res.status, err.code ?? "error", err.message ?? res.statusText);
  }
  auth.token = body.access_token;
  return body;
}

export async function api(path, { method = "GET", body = undefined, signal = undefined } = {}) {
  // The dispatch API words its refusals in the language asked for.
  const headers = { Accept: "application/json", "Accept-Language": getLang() };
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401) auth.onUnauthorized();
    const err = data?.error ?? {};
    const detail = Array.isArray(data?.detail) ? data.detail.map((d) => d.msg).join("; ") : null;
    throw new ApiError(res.status, err.code ?? "error", err.message ?? detail ?? res.statusText,
                       err.details);
  }
  return data;
}

// Stand-in for an advertising pixel (served by the demo itself; it contacts nothing).
// consentgate's banner activates it only when "marketing" is allowed: never for students, never
// with Global Privacy Control. All it does is write a Meta-Pixel-style cookie.
const stamp = Date.now();
document.cookie = `_fbp=fb.1.${stamp}.${Math.floor(Math.random() * 1e9)}; path=/; max-age=${60 * 60 * 24 * 30}; samesite=lax`;

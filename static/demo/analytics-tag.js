// Stand-in for an analytics tag (served by the demo itself; it contacts nothing).
// consentgate's banner activates it only when "analytics" is allowed. All it does is write
// Google-Analytics-style cookies so you can watch them appear and disappear in the developer tools.
const stamp = Math.floor(Date.now() / 1000);
const clientId = `GA1.1.${Math.floor(Math.random() * 1e9)}.${stamp}`;
document.cookie = `_ga=${clientId}; path=/; max-age=${60 * 60 * 24 * 30}; samesite=lax`;
document.cookie = `_ga_DEMO=GS1.1.${stamp}.1.0.${stamp}.0; path=/; max-age=${60 * 60 * 24 * 30}; samesite=lax`;

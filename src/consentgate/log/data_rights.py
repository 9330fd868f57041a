"""The visitor's own view of the privacy log: ``<prefix>/my-data`` and ``<prefix>/forget``.

``GET <prefix>/my-data`` shows every receipt and visit record stored under the visitor's consent
id (R-VIS-1): an HTML page in the visitor's language (``Accept-Language``, or ``?lang=``), or
JSON with ``?format=json`` / ``Accept: application/json``. The page needs no JavaScript and no
inline script; its "Forget me" button is a plain form POST.

``POST <prefix>/forget`` deletes all of it and clears the consent cookie and every optional cookie
the request carried (R-VIS-2). It is refused for cross-site requests, like ``POST /_consent``.
"""

# The Japanese and Chinese texts use full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from consentgate._files import package_dir
from consentgate.enforce.consent import Consent
from consentgate.enforce.endpoints import RequestError, check_same_origin, header
from consentgate.enforce.policy import SUPPORTED_LANGUAGES, Policy
from consentgate.log.stores.base import Deleted, Store, StoreError

__all__ = ["MESSAGES", "DataRights", "pick_language", "templates_dir"]

_NO_STORE = {"cache-control": "no-store"}
_RTL = frozenset({"ar"})

MESSAGES: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Your data",
        "intro": "Everything this site has recorded under your consent ID. Nothing here names you: "
        "the ID is random and is kept only in your consent cookie.",
        "no_id": "You have not made a consent choice on this site, so nothing is recorded about you.",
        "consent_id": "Consent ID",
        "choice": "Your current choice",
        "allowed": "Allowed",
        "refused": "Not allowed",
        "receipts": "Your consent decisions",
        "receipts_none": "No decisions recorded.",
        "visits": "Recorded visits",
        "visits_none": "No visits recorded.",
        "col_time": "Time (UTC)",
        "col_method": "How",
        "col_notes": "Notes",
        "col_path": "Page",
        "col_browser": "Browser",
        "col_system": "System",
        "col_device": "Device",
        "col_country": "Country",
        "col_network": "Network (shortened IP)",
        "col_referrer": "Came from",
        "note_gpc": "Global Privacy Control honoured",
        "note_student": "student session",
        "forget_heading": "Delete my data",
        "forget_text": "This deletes every record above and your consent choice. "
        "The banner will ask you again.",
        "forget_button": "Forget me",
        "forgotten": "Your data has been deleted: {receipts} decision(s) and {visits} visit record(s). "
        "Your consent choice is cleared.",
        "unavailable": "Your records cannot be reached right now. Please try again later.",
        "json_link": "Download as JSON",
    },
    "es": {
        "title": "Tus datos",
        "intro": "Todo lo que este sitio ha registrado con tu identificador de consentimiento. Nada aquí "
        "te identifica: el identificador es aleatorio y solo está en tu cookie de consentimiento.",
        "no_id": "No has tomado ninguna decisión de consentimiento en este sitio, así que no hay nada "
        "registrado sobre ti.",
        "consent_id": "Identificador de consentimiento",
        "choice": "Tu elección actual",
        "allowed": "Permitido",
        "refused": "No permitido",
        "receipts": "Tus decisiones de consentimiento",
        "receipts_none": "No hay decisiones registradas.",
        "visits": "Visitas registradas",
        "visits_none": "No hay visitas registradas.",
        "col_time": "Hora (UTC)",
        "col_method": "Cómo",
        "col_notes": "Notas",
        "col_path": "Página",
        "col_browser": "Navegador",
        "col_system": "Sistema",
        "col_device": "Dispositivo",
        "col_country": "País",
        "col_network": "Red (IP acortada)",
        "col_referrer": "Procedencia",
        "note_gpc": "Global Privacy Control respetado",
        "note_student": "sesión de estudiante",
        "forget_heading": "Borrar mis datos",
        "forget_text": "Esto borra todos los registros anteriores y tu elección de consentimiento. "
        "El aviso te lo volverá a preguntar.",
        "forget_button": "Olvidarme",
        "forgotten": "Tus datos se han borrado: {receipts} decisión(es) y {visits} registro(s) de visita. "
        "Tu elección de consentimiento se ha eliminado.",
        "unavailable": "Ahora mismo no se puede acceder a tus registros. Inténtalo de nuevo más tarde.",
        "json_link": "Descargar en JSON",
    },
    "fr": {
        "title": "Vos données",
        "intro": "Tout ce que ce site a enregistré sous votre identifiant de consentement. Rien ici ne "
        "vous nomme : l'identifiant est aléatoire et ne se trouve que dans votre cookie de consentement.",
        "no_id": "Vous n'avez fait aucun choix de consentement sur ce site ; rien n'est donc enregistré "
        "à votre sujet.",
        "consent_id": "Identifiant de consentement",
        "choice": "Votre choix actuel",
        "allowed": "Autorisé",
        "refused": "Non autorisé",
        "receipts": "Vos décisions de consentement",
        "receipts_none": "Aucune décision enregistrée.",
        "visits": "Visites enregistrées",
        "visits_none": "Aucune visite enregistrée.",
        "col_time": "Heure (UTC)",
        "col_method": "Comment",
        "col_notes": "Remarques",
        "col_path": "Page",
        "col_browser": "Navigateur",
        "col_system": "Système",
        "col_device": "Appareil",
        "col_country": "Pays",
        "col_network": "Réseau (IP tronquée)",
        "col_referrer": "Provenance",
        "note_gpc": "Global Privacy Control respecté",
        "note_student": "session élève",
        "forget_heading": "Supprimer mes données",
        "forget_text": "Cela supprime tous les enregistrements ci-dessus ainsi que votre choix de "
        "consentement. Le bandeau vous le redemandera.",
        "forget_button": "M'oublier",
        "forgotten": "Vos données ont été supprimées : {receipts} décision(s) et {visits} visite(s). "
        "Votre choix de consentement est effacé.",
        "unavailable": "Vos enregistrements sont inaccessibles pour le moment. Réessayez plus tard.",
        "json_link": "Télécharger en JSON",
    },
    "ar": {
        "title": "بياناتك",
        "intro": "كل ما سجّله هذا الموقع تحت معرّف الموافقة الخاص بك. لا شيء هنا يدل على هويتك: "
        "المعرّف عشوائي ولا يوجد إلا في ملف تعريف الارتباط الخاص بالموافقة.",
        "no_id": "لم تتخذ أي قرار بشأن الموافقة على هذا الموقع، لذلك لا يوجد أي سجل عنك.",
        "consent_id": "معرّف الموافقة",
        "choice": "اختيارك الحالي",
        "allowed": "مسموح",
        "refused": "غير مسموح",
        "receipts": "قرارات الموافقة الخاصة بك",
        "receipts_none": "لا توجد قرارات مسجلة.",
        "visits": "الزيارات المسجلة",
        "visits_none": "لا توجد زيارات مسجلة.",
        "col_time": "الوقت (UTC)",
        "col_method": "الطريقة",
        "col_notes": "ملاحظات",
        "col_path": "الصفحة",
        "col_browser": "المتصفح",
        "col_system": "النظام",
        "col_device": "الجهاز",
        "col_country": "البلد",
        "col_network": "الشبكة (عنوان IP مختصر)",
        "col_referrer": "المصدر",
        "note_gpc": "تم احترام إشارة التحكم العالمي في الخصوصية",
        "note_student": "جلسة طالب",
        "forget_heading": "حذف بياناتي",
        "forget_text": "يحذف هذا كل السجلات أعلاه واختيارك بشأن الموافقة. سيسألك الشريط مرة أخرى.",
        "forget_button": "انسَني",
        "forgotten": "تم حذف بياناتك: {receipts} قرار و{visits} سجل زيارة. تم مسح اختيارك بشأن الموافقة.",
        "unavailable": "لا يمكن الوصول إلى سجلاتك الآن. يُرجى المحاولة لاحقًا.",
        "json_link": "تنزيل بصيغة JSON",
    },
    "ja": {
        "title": "あなたのデータ",
        "intro": "このサイトがあなたの同意IDで記録したすべての情報です。あなたを特定する情報は含まれません。"
        "IDはランダムで、同意Cookieの中にだけ保存されています。",
        "no_id": "このサイトで同意の選択をしていないため、あなたに関する記録はありません。",
        "consent_id": "同意ID",
        "choice": "現在の選択",
        "allowed": "許可",
        "refused": "不許可",
        "receipts": "同意の記録",
        "receipts_none": "記録された同意はありません。",
        "visits": "記録された訪問",
        "visits_none": "記録された訪問はありません。",
        "col_time": "日時 (UTC)",
        "col_method": "方法",
        "col_notes": "備考",
        "col_path": "ページ",
        "col_browser": "ブラウザ",
        "col_system": "OS",
        "col_device": "端末",
        "col_country": "国",
        "col_network": "ネットワーク (短縮IP)",
        "col_referrer": "参照元",
        "note_gpc": "グローバル・プライバシー・コントロールを尊重しました",
        "note_student": "生徒のセッション",
        "forget_heading": "データを削除",
        "forget_text": "上記のすべての記録と同意の選択を削除します。バナーが改めて確認します。",
        "forget_button": "データを削除する",
        "forgotten": "データを削除しました（同意 {receipts} 件、訪問記録 {visits} 件）。"
        "同意の選択も消去しました。",
        "unavailable": "現在、記録にアクセスできません。しばらくしてからもう一度お試しください。",
        "json_link": "JSONでダウンロード",
    },
    "zh": {
        "title": "你的数据",
        "intro": "本网站以你的同意编号记录的全部内容。这里没有任何能识别你身份的信息：编号是随机的，"
        "只保存在你的同意 Cookie 中。",
        "no_id": "你尚未在本网站做出同意选择，因此没有关于你的记录。",
        "consent_id": "同意编号",
        "choice": "你当前的选择",
        "allowed": "允许",
        "refused": "不允许",
        "receipts": "你的同意决定",
        "receipts_none": "没有记录的决定。",
        "visits": "记录的访问",
        "visits_none": "没有记录的访问。",
        "col_time": "时间 (UTC)",
        "col_method": "方式",
        "col_notes": "备注",
        "col_path": "页面",
        "col_browser": "浏览器",
        "col_system": "系统",
        "col_device": "设备",
        "col_country": "国家/地区",
        "col_network": "网络（截短的 IP）",
        "col_referrer": "来源",
        "note_gpc": "已遵循全球隐私控制信号",
        "note_student": "学生会话",
        "forget_heading": "删除我的数据",
        "forget_text": "这将删除上面的所有记录以及你的同意选择。横幅会再次询问你。",
        "forget_button": "忘记我",
        "forgotten": "你的数据已删除：{receipts} 条决定和 {visits} 条访问记录。你的同意选择已清除。",
        "unavailable": "暂时无法访问你的记录，请稍后再试。",
        "json_link": "下载 JSON",
    },
}


def templates_dir() -> Path:
    """``consentgate/templates`` in an installed wheel; the repository's ``templates/`` otherwise."""
    return package_dir("templates")


def pick_language(scope: Scope, default: str) -> str:
    """``?lang=xx`` if supported, else the best supported ``Accept-Language`` entry, else default."""
    query: dict[str, list[str]] = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    for wanted in query.get("lang", []):
        if wanted in SUPPORTED_LANGUAGES:
            return wanted
    raw = (header(scope, b"accept-language") or b"").decode("latin-1")
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(raw.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        base = tag.strip().lower().split("-")[0]
        if base in SUPPORTED_LANGUAGES and quality > 0:
            ranked.append((-quality, index, base))
    if ranked:
        return min(ranked)[2]
    return default if default in SUPPORTED_LANGUAGES else "en"


def _wants_json(scope: Scope) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "json" in query.get("format", []):
        return True
    accept = (header(scope, b"accept") or b"").lower()
    return b"application/json" in accept and b"text/html" not in accept


class DataRights:
    """Serves the visitor's data-rights routes for one privacy log."""

    def __init__(self, policy: Policy, store: Store, forget: Callable[[str], Awaitable[Deleted]]) -> None:
        self.policy = policy
        self.store = store
        self._forget = forget
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir())),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.template = env.get_template("my_data.html")

    async def handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        consent: Consent,
        clear_headers: list[tuple[bytes, bytes]],
    ) -> bool:
        prefix, _, name = scope["path"].rpartition("/")
        if name not in ("my-data", "forget"):
            return False
        try:
            if name == "my-data":
                response = await self._my_data(scope, consent, prefix)
            else:
                response = await self._forget_me(scope, consent, prefix, clear_headers)
        except RequestError as exc:
            response = self._error(scope, exc.status, exc.message)
        await response(scope, receive, send)
        return True

    def _error(self, scope: Scope, status: int, message: str) -> Response:
        response = JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)
        if status == 405:
            allow = "POST" if scope["path"].endswith("/forget") else "GET, HEAD"
            response.headers["allow"] = allow
        return response

    async def _records(self, consent_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        def load() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            receipts = [r.as_dict() for r in self.store.receipts(consent_id=consent_id)]
            return receipts, self.store.visits(consent_id=consent_id)

        try:
            return await asyncio.to_thread(load)
        except StoreError:
            raise RequestError(503, "your records cannot be reached right now; try again later") from None

    async def _my_data(self, scope: Scope, consent: Consent, prefix: str) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            raise RequestError(405, "use GET")
        consent_id = consent.consent_id
        receipts: list[dict[str, Any]] = []
        visits: list[dict[str, Any]] = []
        if consent_id is not None:
            receipts, visits = await self._records(consent_id)
        if _wants_json(scope):
            body = {
                "consent_id": consent_id,
                "consent": consent.as_dict(self.policy),
                "receipts": receipts,
                "visits": visits,
            }
            return JSONResponse(body, headers=_NO_STORE)
        return self._page(scope, consent, prefix, receipts, visits, None)

    async def _forget_me(
        self, scope: Scope, consent: Consent, prefix: str, clear_headers: list[tuple[bytes, bytes]]
    ) -> Response:
        if scope["method"] != "POST":
            raise RequestError(405, "use POST")
        check_same_origin(scope)
        deleted = Deleted()
        if consent.consent_id is not None:
            try:
                deleted = await self._forget(consent.consent_id)
            except StoreError:
                raise RequestError(503, "your records cannot be deleted right now; try again later") from None
        if _wants_json(scope):
            response: Response = JSONResponse(
                {"forgotten": True, "receipts": deleted.receipts, "visits": deleted.visits}, headers=_NO_STORE
            )
        else:
            response = self._page(scope, None, prefix, [], [], deleted)
        response.raw_headers.extend(clear_headers)
        return response

    def _page(
        self,
        scope: Scope,
        consent: Consent | None,
        prefix: str,
        receipts: list[dict[str, Any]],
        visits: list[dict[str, Any]],
        deleted: Deleted | None,
    ) -> Response:
        language = pick_language(scope, self.policy.default_language)
        text = MESSAGES[language]

        def label(name: str) -> str:
            if self.policy.has_category(name):
                return self.policy.category(name).label(language) or name.replace("_", " ").capitalize()
            return name

        choice = None
        if consent is not None and consent.consent_id is not None:
            choice = {
                "allowed": [label(c) for c in self.policy.category_names if c in consent.granted],
                "refused": [label(c) for c in self.policy.category_names if c not in consent.granted],
            }
        html = self.template.render(
            lang=language,
            dir="rtl" if language in _RTL else "ltr",
            t=text,
            prefix=prefix,
            consent_id=None if consent is None else consent.consent_id,
            choice=choice,
            receipts=[
                {
                    **r,
                    "granted_labels": [label(c) for c in r["granted"]],
                    "refused_labels": [label(c) for c in r["refused"]],
                }
                for r in receipts
            ],
            visits=visits,
            forgotten=None
            if deleted is None
            else text["forgotten"].format(receipts=deleted.receipts, visits=deleted.visits),
        )
        return HTMLResponse(html, headers=_NO_STORE)

"""The demo site's own navigation texts in the built-in banner languages.

Only the site's frame (navigation, sign-in state, language switcher) is translated: the page bodies
are English sample content, marked ``lang="en"`` so assistive technology reads them correctly.
The banner, the preferences dialog and "My data" come translated from ``consentgate/locales``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["TEXTS", "texts_for"]

_EN = {
    "site": "Lincoln High (demo)",
    "skip": "Skip to content",
    "nav": "Main",
    "home": "Home",
    "courses": "Courses",
    "quiz": "Quiz",
    "cookies": "Cookie lab",
    "my_data": "My data",
    "dashboard": "Privacy dashboard",
    "sign_in": "Demo sign-in",
    "sign_out": "Sign out",
    "as_teacher": "Signed in as a teacher (demo)",
    "as_student": "Signed in as a student (demo)",
    "guest": "Not signed in",
    "language": "Language",
    "notice": "A demo site on your own machine: nothing here is sent anywhere else.",
}

TEXTS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "en": MappingProxyType(_EN),
        "es": MappingProxyType(
            {
                "site": "Instituto Lincoln (demo)",
                "skip": "Saltar al contenido",
                "nav": "Principal",
                "home": "Inicio",
                "courses": "Cursos",
                "quiz": "Cuestionario",
                "cookies": "Laboratorio de cookies",
                "my_data": "Mis datos",
                "dashboard": "Panel de privacidad",
                "sign_in": "Acceso de demostración",
                "sign_out": "Cerrar sesión",
                "as_teacher": "Sesión iniciada como docente (demo)",
                "as_student": "Sesión iniciada como estudiante (demo)",
                "guest": "Sin sesión iniciada",
                "language": "Idioma",
                "notice": "Un sitio de demostración en tu propio equipo: nada se envía a ningún otro lugar.",
            }
        ),
        "fr": MappingProxyType(
            {
                "site": "Lycée Lincoln (démo)",
                "skip": "Aller au contenu",
                "nav": "Principale",
                "home": "Accueil",
                "courses": "Cours",
                "quiz": "Quiz",
                "cookies": "Labo des cookies",
                "my_data": "Mes données",
                "dashboard": "Tableau de bord confidentialité",
                "sign_in": "Connexion de démonstration",
                "sign_out": "Se déconnecter",
                "as_teacher": "Connecté en tant qu\u2019enseignant (démo)",
                "as_student": "Connecté en tant qu\u2019élève (démo)",
                "guest": "Non connecté",
                "language": "Langue",
                "notice": "Un site de démonstration sur votre machine : rien n\u2019est envoyé ailleurs.",
            }
        ),
        "ar": MappingProxyType(
            {
                "site": "ثانوية لينكولن (تجريبي)",
                "skip": "انتقل إلى المحتوى",
                "nav": "الرئيسية",
                "home": "الصفحة الرئيسية",
                "courses": "الدورات",
                "quiz": "اختبار قصير",
                "cookies": "مختبر ملفات تعريف الارتباط",
                "my_data": "بياناتي",
                "dashboard": "لوحة الخصوصية",
                "sign_in": "تسجيل دخول تجريبي",
                "sign_out": "تسجيل الخروج",
                "as_teacher": "مسجّل الدخول كمعلّم (تجريبي)",
                "as_student": "مسجّل الدخول كطالب (تجريبي)",
                "guest": "لم تسجّل الدخول",
                "language": "اللغة",
                "notice": "موقع تجريبي على جهازك: لا يُرسل أي شيء إلى مكان آخر.",
            }
        ),
        "ja": MappingProxyType(
            {
                "site": "リンカーン高校(デモ)",
                "skip": "本文へ移動",
                "nav": "メイン",
                "home": "ホーム",
                "courses": "コース",
                "quiz": "クイズ",
                "cookies": "Cookie ラボ",
                "my_data": "自分のデータ",
                "dashboard": "プライバシーダッシュボード",
                "sign_in": "デモ用サインイン",
                "sign_out": "サインアウト",
                "as_teacher": "教員としてサインイン中(デモ)",
                "as_student": "生徒としてサインイン中(デモ)",
                "guest": "サインインしていません",
                "language": "言語",
                "notice": "お使いのマシン上のデモサイトです。外部には何も送信されません。",
            }
        ),
        "zh": MappingProxyType(
            {
                "site": "林肯中学(演示)",
                "skip": "跳到正文",
                "nav": "主导航",
                "home": "首页",
                "courses": "课程",
                "quiz": "小测验",
                "cookies": "Cookie 实验室",
                "my_data": "我的数据",
                "dashboard": "隐私仪表板",
                "sign_in": "演示登录",
                "sign_out": "退出登录",
                "as_teacher": "已以教师身份登录(演示)",
                "as_student": "已以学生身份登录(演示)",
                "guest": "未登录",
                "language": "语言",
                "notice": "这是运行在您本机上的演示网站:不会向任何其他地方发送数据。",
            }
        ),
        "de": MappingProxyType(
            {
                "site": "Lincoln-Gymnasium (Demo)",
                "skip": "Zum Inhalt springen",
                "nav": "Hauptnavigation",
                "home": "Start",
                "courses": "Kurse",
                "quiz": "Quiz",
                "cookies": "Cookie-Labor",
                "my_data": "Meine Daten",
                "dashboard": "Datenschutz-Übersicht",
                "sign_in": "Demo-Anmeldung",
                "sign_out": "Abmelden",
                "as_teacher": "Als Lehrkraft angemeldet (Demo)",
                "as_student": "Mit Schülerkonto angemeldet (Demo)",
                "guest": "Nicht angemeldet",
                "language": "Sprache",
                "notice": "Eine Demo-Website auf Ihrem eigenen Rechner: Nichts wird anderswohin gesendet.",
            }
        ),
        "it": MappingProxyType(
            {
                "site": "Liceo Lincoln (demo)",
                "skip": "Vai al contenuto",
                "nav": "Principale",
                "home": "Home",
                "courses": "Corsi",
                "quiz": "Quiz",
                "cookies": "Laboratorio dei cookie",
                "my_data": "I miei dati",
                "dashboard": "Pannello privacy",
                "sign_in": "Accesso dimostrativo",
                "sign_out": "Esci",
                "as_teacher": "Accesso come docente (demo)",
                "as_student": "Accesso come studente (demo)",
                "guest": "Accesso non effettuato",
                "language": "Lingua",
                "notice": "Un sito dimostrativo sul tuo computer: niente viene inviato altrove.",
            }
        ),
        "pt": MappingProxyType(
            {
                "site": "Escola Secundária Lincoln (demonstração)",
                "skip": "Saltar para o conteúdo",
                "nav": "Principal",
                "home": "Início",
                "courses": "Disciplinas",
                "quiz": "Questionário",
                "cookies": "Laboratório de cookies",
                "my_data": "Os meus dados",
                "dashboard": "Painel de privacidade",
                "sign_in": "Início de sessão de demonstração",
                "sign_out": "Terminar sessão",
                "as_teacher": "Sessão iniciada como professor (demonstração)",
                "as_student": "Sessão iniciada como aluno (demonstração)",
                "guest": "Sem sessão iniciada",
                "language": "Idioma",
                "notice": "Um site de demonstração no seu computador: nada é enviado para outro lado.",
            }
        ),
        "nl": MappingProxyType(
            {
                "site": "Lincoln College (demo)",
                "skip": "Naar de inhoud",
                "nav": "Hoofdmenu",
                "home": "Start",
                "courses": "Vakken",
                "quiz": "Quiz",
                "cookies": "Cookielab",
                "my_data": "Mijn gegevens",
                "dashboard": "Privacydashboard",
                "sign_in": "Demo-aanmelding",
                "sign_out": "Afmelden",
                "as_teacher": "Aangemeld als docent (demo)",
                "as_student": "Aangemeld als leerling (demo)",
                "guest": "Niet aangemeld",
                "language": "Taal",
                "notice": "Een demosite op je eigen computer: er wordt niets ergens anders naartoe gestuurd.",
            }
        ),
        "pl": MappingProxyType(
            {
                "site": "Liceum Lincolna (demo)",
                "skip": "Przejdź do treści",
                "nav": "Menu główne",
                "home": "Strona główna",
                "courses": "Kursy",
                "quiz": "Quiz",
                "cookies": "Laboratorium plików cookie",
                "my_data": "Moje dane",
                "dashboard": "Panel prywatności",
                "sign_in": "Logowanie demonstracyjne",
                "sign_out": "Wyloguj",
                "as_teacher": "Zalogowano jako nauczyciel (demo)",
                "as_student": "Zalogowano jako uczeń (demo)",
                "guest": "Nie zalogowano",
                "language": "Język",
                "notice": "Strona demonstracyjna na Twoim komputerze: nic nie jest wysyłane gdzie indziej.",
            }
        ),
    }
)


def texts_for(language: str) -> Mapping[str, str]:
    """The frame texts of one language (English for any other)."""
    return TEXTS.get(language, TEXTS["en"])


def _check() -> None:
    reference = set(_EN)
    for language, table in TEXTS.items():
        if set(table) != reference:
            different = sorted(reference ^ set(table))
            raise ValueError(f"demo texts for {language!r} differ from English: {different}")


_check()

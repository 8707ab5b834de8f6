"""Japanese for every message a person sees: marshmallow's validation messages, the titles of error
pages and the API's error messages.

Nothing here runs at import: ``create_app`` calls :func:`install_marshmallow_messages` once (it sets
the class-level default messages of marshmallow's fields and validators, which every schema of the
app then uses), and the error handlers in ``api.py`` call :func:`user_message`.
"""
from __future__ import annotations

import re

from marshmallow import Schema, fields, validate

# marshmallow field class → its default messages in Japanese (keys as marshmallow names them).
FIELD_MESSAGES: dict[type, dict[str, str]] = {
    fields.Field: {"required": "必須項目です。入力してください",
                   "null": "空欄にはできません。入力してください",
                   "validator_failed": "値が正しくありません"},
    fields.String: {"invalid": "文字列で入力してください", "invalid_utf8": "文字コードが正しくありません"},
    fields.Number: {"invalid": "数値で入力してください", "too_large": "数値が大きすぎます"},
    fields.Integer: {"invalid": "整数で入力してください"},
    fields.Float: {"special": "数値で入力してください（NaN・無限大は使えません）"},
    fields.Decimal: {"special": "数値で入力してください（NaN・無限大は使えません）"},
    fields.Boolean: {"invalid": "はい／いいえ（true／false）で指定してください"},
    fields.Date: {"invalid": "日付が正しくありません（例: 2026-04-01、昭和25年4月1日）",
                  "format": "日付として表示できません: {input}"},
    fields.DateTime: {"invalid": "日時が正しくありません（例: 2026-04-01T09:00:00+09:00）",
                      "invalid_awareness": "タイムゾーン付きの日時で指定してください",
                      "format": "日時として表示できません: {input}"},
    fields.Time: {"invalid": "時刻が正しくありません（例: 09:00）", "format": "時刻として表示できません: {input}"},
    fields.TimeDelta: {"invalid": "期間が正しくありません", "format": "期間として表示できません: {input!r}"},
    fields.Email: {"invalid": "メールアドレスの形式が正しくありません"},
    fields.URL: {"invalid": "URL の形式が正しくありません"},
    fields.UUID: {"invalid_uuid": "UUID の形式が正しくありません"},
    fields.List: {"invalid": "一覧（配列）で指定してください"},
    fields.Tuple: {"invalid": "一覧（配列）で指定してください"},
    fields.Mapping: {"invalid": "項目と値の組（オブジェクト）で指定してください"},
    fields.Nested: {"type": "形式が正しくありません（オブジェクトで指定してください）"},
    fields.Enum: {"unknown": "次のいずれかを指定してください: {choices}"},
}
SCHEMA_MESSAGES = {"type": "入力の形式が正しくありません", "unknown": "この項目は受け付けていません"}
# validator class → attribute → Japanese template (marshmallow fills {min} {max} {choices} …).
VALIDATOR_MESSAGES: dict[type, dict[str, str]] = {
    validate.Length: {"message_min": "{min}文字以上で入力してください",
                      "message_max": "{max}文字以内で入力してください",
                      "message_all": "{min}〜{max}文字で入力してください",
                      "message_equal": "{equal}文字で入力してください"},
    validate.Range: {"message_min": "{{min}}{min_op}で入力してください",
                     "message_max": "{{max}}{max_op}で入力してください",
                     "message_all": "{{min}}{min_op}、{{max}}{max_op}で入力してください",
                     "message_gte": "以上", "message_gt": "より大きい値", "message_lte": "以下", "message_lt": "未満"},
    validate.OneOf: {"default_message": "次のいずれかを指定してください: {choices}"},
    validate.ContainsOnly: {"default_message": "次の中から選んでください: {choices}"},
    validate.ContainsNoneOf: {"default_message": "次の値は使えません: {values}"},
    validate.Equal: {"default_message": "{other} と同じ値にしてください"},
    validate.NoneOf: {"default_message": "この値は使えません"},
    validate.Predicate: {"default_message": "値が正しくありません"},
    validate.Regexp: {"default_message": "形式が正しくありません"},
    validate.Email: {"default_message": "メールアドレスの形式が正しくありません"},
    validate.URL: {"default_message": "URL の形式が正しくありません"},
}


_ENGLISH: dict[str, set[str]] = {}            # marshmallow's own default texts, captured before install
_ENGLISH_VALIDATOR: dict[type, str] = {}


def install_marshmallow_messages() -> None:
    """Every marshmallow message in Japanese, in one place. Idempotent; called by ``create_app``.

    The class defaults are replaced; schemas are declared at import, before this runs, so their field
    and validator instances already hold the English texts: ``Schema.on_bind_field`` (marshmallow's
    hook, run when a schema instance binds each field) swaps those for the Japanese ones — only texts
    that are marshmallow's own defaults, never a message a schema wrote itself. Range builds
    message_min/max/all from message_gte/gt/lte/lt ("0以上、24以下で入力してください")."""
    if not _ENGLISH:
        for cls in FIELD_MESSAGES:
            for key, text in cls.__dict__.get("default_error_messages", {}).items():
                _ENGLISH.setdefault(key, set()).add(text)
        for cls in VALIDATOR_MESSAGES:
            if "default_message" in cls.__dict__:
                _ENGLISH_VALIDATOR[cls] = cls.__dict__["default_message"]
    for cls, messages in FIELD_MESSAGES.items():
        cls.default_error_messages = {**cls.__dict__.get("default_error_messages", {}), **messages}
    Schema._default_error_messages = {**Schema._default_error_messages, **SCHEMA_MESSAGES}
    for cls, messages in VALIDATOR_MESSAGES.items():
        for attr, text in messages.items():
            setattr(cls, attr, text)
    Schema.on_bind_field = _japanese_field_hook


def _japanese_field_hook(self, field_name: str, field_obj: fields.Field) -> None:
    japanese_field(field_obj)


def japanese_field(field_obj: fields.Field) -> None:
    """Replace marshmallow's English default texts held by one field (and its inner fields and
    validators) with the Japanese class defaults."""
    if getattr(field_obj, "_bcp_japanese", False):
        return
    defaults: dict[str, str] = {}
    for cls in reversed(type(field_obj).__mro__):
        defaults.update(getattr(cls, "default_error_messages", {}))
    for key, text in list(field_obj.error_messages.items()):
        if text in _ENGLISH.get(key, ()) and key in defaults:
            field_obj.error_messages[key] = defaults[key]
    for v in getattr(field_obj, "validators", ()):
        if isinstance(v, validate.Range) and v.error is None:
            for attr in ("message_min", "message_max", "message_all"):
                v.__dict__.pop(attr, None)     # formatted in English at import; rebuilt from the class
            validate.Range.__init__(v, v.min, v.max, min_inclusive=v.min_inclusive, max_inclusive=v.max_inclusive)
        elif getattr(v, "error", None) is not None:
            for cls, english in _ENGLISH_VALIDATOR.items():
                if isinstance(v, cls) and v.error == english:
                    v.error = type(v).default_message
    for inner in (getattr(field_obj, "inner", None), getattr(field_obj, "key_field", None),
                  getattr(field_obj, "value_field", None), *getattr(field_obj, "tuple_fields", ())):
        if isinstance(inner, fields.Field):
            japanese_field(inner)
    field_obj._bcp_japanese = True


# --- error pages and the API's error message -----------------------------------------------------

STATUS_MESSAGES = {
    400: "入力内容に誤りがあります。各項目の説明に従って直してください。",
    401: "サインインしてください。",
    403: "この操作の権限がありません。",
    404: "ページまたはデータが見つかりません。リンクが途中で切れていないか確認してください。",
    405: "この方法では操作できません。",
    409: "現在の状態ではこの操作はできません。",
    410: "この受付は終了しました。",
    413: "送られたデータが大きすぎます。",
    422: "この内容では処理できません。",
    429: "操作が多すぎます。しばらく待ってから再度お試しください。",
    500: "システムでエラーが発生しました。時間をおいて再度お試しください。解決しない場合は拠点にご連絡ください。",
    503: "現在利用できません。時間をおいて再度お試しください。",
}
CSRF_MESSAGE = ("画面を開いてから時間がたったため、送信できませんでした。ページを再読み込みして、"
                "もう一度入力・送信してください。")
STATUS_TITLES = {
    400: "入力内容に誤りがあります", 401: "サインインが必要です", 403: "この操作の権限がありません",
    404: "見つかりません", 405: "この操作はできません", 409: "現在の状態ではこの操作はできません",
    410: "この受付は終了しました", 413: "データが大きすぎます", 422: "処理できません",
    429: "操作が多すぎます", 500: "エラーが発生しました", 503: "現在利用できません",
}
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff5e]")


def is_japanese(text: str | None) -> bool:
    return bool(text and _JAPANESE.search(text))


def status_title(status: int | None) -> str:
    return STATUS_TITLES.get(status or 500, "エラーが発生しました")


def user_message(status: int | None, message: str | None) -> str:
    """What a person reads: the message itself when it is written in Japanese, otherwise the Japanese
    explanation of the status (an English developer's message never reaches a user)."""
    if is_japanese(message):
        return message or ""
    return STATUS_MESSAGES.get(status or 500, STATUS_MESSAGES[500] if (status or 500) >= 500 else STATUS_MESSAGES[400])

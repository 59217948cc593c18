"""E-mail: says a queued e-mail in its reader's language and hands it to the SMTP server.

Beside the web layer (like ``worker``): the sentences and links are the pages' own
(``web.notifications``), rendered in a request context made for the recipient — their language,
the configured ``PUBLIC_URL`` — so that a link in an e-mail opens the page it names.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import Flask, render_template
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from opsperf.persistence.models import Email, Notification, User
from opsperf.web import notifications as web_notifications


class SmtpMailer:
    """Sends through the server the app's ``SMTP_*`` settings name."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def compose(self, email: Email, user: User, items: list[Notification]) -> EmailMessage:
        config = self.app.config
        language = user.language or config.get("BABEL_DEFAULT_LOCALE", "zh")
        base = str(config.get("PUBLIC_URL") or "http://localhost:5000/")
        # a fresh app context: its own g, so that the language of one e-mail never sticks
        with (
            self.app.app_context(),
            self.app.test_request_context("/", base_url=base),
            force_locale(language),
        ):
            lines = [
                (web_notifications.say(n), web_notifications.link(n, external=True), n)
                for n in items
            ]
            if email.digest:
                subject = ngettext(
                    "opsperf: %(num)s notification today",
                    "opsperf: %(num)s notifications today",
                    len(lines),
                )
            else:
                subject = lines[0][0] if lines else _("opsperf notification")
            inbox = web_notifications.url_for_inbox()
            context = {"lines": lines, "digest": email.digest, "user": user, "inbox": inbox}
            text = render_template("mail/notification.txt", **context)
            html = render_template("mail/notification.html", lang=language, **context)
        message = EmailMessage()
        message["Subject"] = subject if len(subject) <= 200 else subject[:199] + "…"
        message["From"] = config["MAIL_FROM"]
        message["To"] = user.email
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="opsperf")
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    def send(self, email: Email, user: User, items: list[Notification]) -> None:
        message = self.compose(email, user, items)
        email.to_addr = user.email
        email.subject = str(message["Subject"])[:300]
        config = self.app.config
        host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
        timeout = float(config["SMTP_TIMEOUT"])
        security = config.get("SMTP_SECURITY", "starttls")
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if security == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=context)
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
            smtp.send_message(message)

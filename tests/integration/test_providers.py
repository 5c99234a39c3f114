"""Provider families, live: a scripted responder on 127.0.0.1 greets, names
itself in EHLO and refuses the login as that provider does; the real binary
connects with STARTTLS to it, and the hint must name that provider's fix.
The server is 127.0.0.1, so the provider is recognised from what the server
says (greeting, EHLO name, reply), never from the host name."""

import unittest

from smtptest import SmtpTestCase


def ehlo(name, auth="AUTH LOGIN PLAIN"):
    """(before TLS, after TLS) EHLO replies naming the server as `name`."""
    before = ["250-" + name, "250-SIZE 35882577", "250-8BITMIME", "250-STARTTLS",
              "250-ENHANCEDSTATUSCODES", "250 PIPELINING"]
    after = ["250-" + name, "250-SIZE 35882577", "250-8BITMIME", "250-" + auth,
             "250-ENHANCEDSTATUSCODES", "250 PIPELINING"]
    return before, after


# family: (greeting, EHLO name, AUTH reply lines, words the hints must hold)
FAMILIES = {
    "gmail": ("220 smtp.gmail.com ESMTP a1-20020a05600c sm123 - gsmtp",
              "smtp.gmail.com at your service, [203.0.113.5]",
              ["535-5.7.8 Username and Password not accepted. For more information, go to",
               "535 5.7.8  https://support.google.com/mail/?p=BadCredentials a1sm2 - gsmtp"],
              ["app password", "support.google.com/accounts/answer/185833", "password source"]),
    "office365": ("220 BN0PR04CA0001.outlook.office365.com Microsoft ESMTP MAIL Service ready at "
                  "Mon, 1 Jan 2024 10:00:00 +0000",
                  "BN0PR04CA0001.outlook.office365.com Hello [203.0.113.5]",
                  ["535 5.7.3 Authentication unsuccessful [BN0PR04CA0001.namprd04.prod.outlook.com]"],
                  ["SMTP AUTH", "full mailbox address", "OAuth2"]),
    "yahoo": ("220 smtp.mail.yahoo.com ESMTP ready",
              "hermes--production-bf1-5f9df5c5c4-abcde Hello client [203.0.113.5])",
              ["535 5.7.0 (#AUTH005) Too many bad auth attempts."],
              ["Yahoo needs an app password"]),
    "icloud": ("220 p00-icloudmta-asmtp-us-west-3a-100-percent-1.p00-icloudmta-asmtp-vip."
               "icloud-mail-production.svc.kube.us-west-3a.k8s.cloud.apple.com ESMTP",
               "p00-icloudmta-asmtp-us-west-3a-100-percent-1.icloud-mail-production.svc",
               ["535 5.7.8 Authentication failed"],
               ["app-specific password"]),
    "ses": ("220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-ABCDEFGHI",
            "email-smtp.amazonaws.com",
            ["535 Authentication Credentials Invalid"],
            ["SMTP credentials made in the SES console", "not your AWS access keys"]),
    "sendgrid": ("220 SG ESMTP service ready at ismtpd0004p1lon1.sendgrid.net",
                 "smtp.sendgrid.net",
                 ["535 Authentication failed: Bad username / password"],
                 ["apikey", "API key"]),
    "mailgun": ("220 Mailgun Influx ready",
                "smtp-out-n01.prod.us-east-1.postgun.com",
                ["535 5.7.0 Mailgun is not loving your login or password"],
                ["the domain's SMTP credentials"]),
    "postfix": ("220 mail.example.org ESMTP Postfix (Debian/GNU)",
                "mail.example.org",
                ["535 5.7.8 Error: authentication failed: authentication failure"],
                ["password source", "the usual causes", "app password"]),
}


class ProviderLogins(SmtpTestCase):
    def login_refused(self, family):
        greeting, name, auth, words = FAMILIES[family]
        before, after = ehlo(name)
        server = self.responder({"greeting": greeting, "ehlo": before, "ehlo_tls": after,
                                 "auth": auth})
        env = self.server_env(server)
        r = self.run_smtpsend(["--json", "--timeout", "10", "dev@example.com"],
                              stdin=b"hello\n", **env)
        self.assertExit(r, 77)
        j = r.json()
        self.assertEqual(j["status"], "failed", repr(r))
        self.assertEqual(j["error"]["stage"], "auth", repr(r))
        self.assertEqual(j["error"]["class"], "auth", repr(r))
        self.assertEqual(j["error"]["reply"], "\n".join(auth), repr(r))
        hints = " ".join(j["error"]["hints"])
        for w in words:
            self.assertIn(w, hints, repr(r))
        self.assertIn("STARTTLS", server.log_commands())
        self.assertNotIn("MAIL", server.log_commands(), "nothing is sent after a refused login")
        # The text report carries the same hints.
        r = self.run_smtpsend(["--timeout", "10", "dev@example.com"], stdin=b"hello\n", **env)
        self.assertExit(r, 77)
        for w in words:
            self.assertIn(w, r.stderr, repr(r))
        return j

    def test_gmail(self):
        self.login_refused("gmail")

    def test_microsoft_365(self):
        self.login_refused("office365")

    def test_yahoo(self):
        self.login_refused("yahoo")

    def test_icloud(self):
        self.login_refused("icloud")

    def test_ses(self):
        self.login_refused("ses")

    def test_sendgrid(self):
        self.login_refused("sendgrid")

    def test_mailgun(self):
        self.login_refused("mailgun")

    def test_generic_postfix(self):
        j = self.login_refused("postfix")
        self.assertNotIn("Gmail accepts", " ".join(j["error"]["hints"]))

    def test_gmail_app_password_required(self):
        greeting, name, _, _ = FAMILIES["gmail"]
        before, after = ehlo(name)
        server = self.responder({"greeting": greeting, "ehlo": before, "ehlo_tls": after,
                                 "auth": ["534-5.7.9 Application-specific password required. Learn more at",
                                          "534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor"]})
        r = self.run_smtpsend(["--json", "dev@example.com"], stdin=b"hello\n", **self.server_env(server))
        self.assertExit(r, 77)
        j = r.json()
        self.assertIn("app password", j["error"]["summary"])
        self.assertIn("support.google.com/accounts/answer/185833", " ".join(j["error"]["hints"]))

    def test_ses_unverified_sender(self):
        greeting, name, _, _ = FAMILIES["ses"]
        before, after = ehlo(name)
        server = self.responder({"greeting": greeting, "ehlo": before, "ehlo_tls": after,
                                 "eod": "554 Message rejected: Email address is not verified. The "
                                        "following identities failed the check in region "
                                        "US-EAST-1: sender@example.com"})
        r = self.run_smtpsend(["--json", "dev@example.com"], stdin=b"hello\n", **self.server_env(server))
        self.assertExit(r, 77)
        j = r.json()
        self.assertEqual(j["error"]["class"], "sender")
        self.assertEqual(j["error"]["stage"], "end-of-data")
        self.assertIn("<sender@example.com>", j["error"]["summary"])
        self.assertIn("verified identities", " ".join(j["error"]["hints"]))

    def test_microsoft_365_smtp_auth_disabled(self):
        greeting, name, _, _ = FAMILIES["office365"]
        before, after = ehlo(name)
        server = self.responder({"greeting": greeting, "ehlo": before, "ehlo_tls": after,
                                 "auth": "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
                                         "is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled "
                                         "for more information."})
        r = self.run_smtpsend(["--json", "dev@example.com"], stdin=b"hello\n", **self.server_env(server))
        self.assertExit(r, 77)
        j = r.json()
        self.assertIn("SMTP AUTH is disabled", j["error"]["summary"])
        self.assertIn("per mailbox", " ".join(j["error"]["hints"]))


if __name__ == "__main__":
    unittest.main()

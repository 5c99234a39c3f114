// An independent SMTP peer for tests/integration/test_nodemailer_peer.py:
// nodemailer's smtp-server receives on 127.0.0.1 and mailparser parses what
// arrived. Started with one JSON argument (options below); prints
// {"port": N} on stdout once listening, then one JSON line per message:
// the envelope as the server saw it (MAIL FROM with its parameters, RCPT TO)
// and the MAIL/RCPT lines as sent,
// the raw message (base64, after dot-unstuffing), facts about the raw bytes
// (longest line, 8-bit bytes without BODY=8BITMIME/SMTPUTF8) and mailparser's
// view of it. Test-only; never shipped.
'use strict';
const fs = require('fs');
const path = require('path');
const modules = path.join(__dirname, 'node_modules');
const { SMTPServer } = require(path.join(modules, 'smtp-server'));
const { simpleParser } = require(path.join(modules, 'mailparser'));

const opts = JSON.parse(process.argv[2] || '{}');
// opts: cert, key (PEM paths: STARTTLS offered), users {login: password}
// (AUTH PLAIN LOGIN required), hide8BITMIME, hideSMTPUTF8 (booleans).
const users = opts.users || {};
const auth = Object.keys(users).length > 0;
let counter = 0;
// The command lines as they came (smtp-server turns xn-- domains into
// Unicode in the envelope it gives onData), by connection id.
const commands = new Map();
const quiet = () => {};
const logger = {
    trace: quiet, info: quiet, warn: quiet, error: quiet, fatal: quiet,
    debug(meta, format, line) {
        if (meta && meta.tnx === 'command' && /^(MAIL|RCPT) /i.test(line)) {
            if (!commands.has(meta.cid)) commands.set(meta.cid, []);
            commands.get(meta.cid).push(line);
        }
    },
};

function emit(record) {
    process.stdout.write(JSON.stringify(record) + '\n');
}

function addresses(field) {
    if (!field) return null;
    const list = Array.isArray(field) ? field : [field];
    return list.flatMap(f => f.value).map(v => ({ name: v.name, address: v.address }));
}

function rawFacts(raw, args) {
    let longest = 0;
    let start = 0;
    for (let i = 0; i <= raw.length; i++) {
        if (i === raw.length || raw[i] === 0x0a) {
            let end = i > start && raw[i - 1] === 0x0d ? i - 1 : i;
            longest = Math.max(longest, end - start);
            start = i + 1;
        }
    }
    const eightBit = raw.some(b => b >= 0x80);
    const declared = (args.BODY || '').toUpperCase() === '8BITMIME' || args.SMTPUTF8 === true;
    return { max_line: longest, eight_bit: eightBit, undeclared_8bit: eightBit && !declared };
}

const server = new SMTPServer({
    secure: false,
    key: opts.key ? fs.readFileSync(opts.key) : undefined,
    cert: opts.cert ? fs.readFileSync(opts.cert) : undefined,
    hideSTARTTLS: !opts.key,
    hide8BITMIME: !!opts.hide8BITMIME,
    hideSMTPUTF8: !!opts.hideSMTPUTF8,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !auth,
    disabledCommands: auth ? [] : ['AUTH'],
    allowInsecureAuth: false,
    logger,
    size: 64 * 1024 * 1024,
    onAuth(a, session, callback) {
        if (users[a.username] !== undefined && users[a.username] === a.password) {
            return callback(null, { user: { login: a.username, method: a.method } });
        }
        return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
        const chunks = [];
        stream.on('data', c => chunks.push(c));
        stream.on('end', async () => {
            const raw = Buffer.concat(chunks);
            const id = 'NODE' + String(++counter).padStart(6, '0');
            const args = session.envelope.mailFrom.args || {};
            const record = {
                queue_id: id,
                mail_from: session.envelope.mailFrom.address,
                mail_params: args,
                rcpt_to: session.envelope.rcptTo.map(r => r.address),
                commands: commands.get(session.id) || [],
                tls: !!session.secure,
                login: session.user ? session.user.login : null,
                auth_method: session.user ? session.user.method : null,
                raw: raw.toString('base64'),
                ...rawFacts(raw, args),
            };
            try {
                const p = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true });
                record.parsed = {
                    subject: p.subject === undefined ? null : p.subject,
                    from: addresses(p.from), to: addresses(p.to), cc: addresses(p.cc),
                    bcc: addresses(p.bcc),
                    text: p.text === undefined ? null : p.text,
                    html: p.html === false || p.html === undefined ? null : p.html,
                    attachments: p.attachments.map(a => ({
                        filename: a.filename === undefined ? null : a.filename,
                        contentType: a.contentType,
                        contentDisposition: a.contentDisposition,
                        content: a.content.toString('base64'),
                    })),
                    header_names: p.headerLines.map(h => h.key),
                };
            } catch (e) {
                record.parse_error = String(e);
            }
            emit(record);
            commands.delete(session.id);
            callback(null, 'Ok: queued as ' + id);
        });
    },
});
server.on('error', e => process.stderr.write('server error: ' + e + '\n'));
server.listen(0, '127.0.0.1', () => emit({ port: server.server.address().port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

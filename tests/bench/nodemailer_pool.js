#!/usr/bin/env node
// The benchmark's peer (tests/bench/run): nodemailer's SMTP pool sends the
// same messages as `smtpsend batch` reads from a batch file (one JSON object a
// line with "to", "subject" and "body"), with STARTTLS and AUTH PLAIN, all
// handed to the pool at once. Not part of the test suite.
//
//   node nodemailer_pool.js PORT USER PASSWORD CAFILE BATCH.jsonl MAX_CONNECTIONS
//
// The pool keeps its defaults otherwise (maxMessages 100: a new connection
// and login after 100 messages). Exit 0 when every message was accepted,
// 1 with the first error on stderr otherwise.
'use strict';

const fs = require('fs');
const path = require('path');
const nodemailer = require(path.join(__dirname, '..', 'node', 'node_modules', 'nodemailer'));

async function main() {
    const [port, user, pass, cafile, batch, maxConnections] = process.argv.slice(2);
    if (!maxConnections) {
        console.error('usage: nodemailer_pool.js PORT USER PASSWORD CAFILE BATCH.jsonl MAX_CONNECTIONS');
        process.exit(2);
    }
    const transport = nodemailer.createTransport({
        pool: true,
        maxConnections: Number(maxConnections),
        host: '127.0.0.1',
        port: Number(port),
        secure: false,
        requireTLS: true,
        auth: { user, pass, method: 'PLAIN' },
        tls: { ca: fs.readFileSync(cafile) }
    });
    const lines = fs.readFileSync(batch, 'utf8').split('\n').filter(l => l.trim());
    const sends = lines.map(line => {
        const m = JSON.parse(line);
        return transport.sendMail({ from: 'bench@example.com', to: m.to, subject: m.subject, text: m.body });
    });
    const results = await Promise.allSettled(sends);
    transport.close();
    const failed = results.filter(r => r.status === 'rejected');
    if (failed.length) {
        console.error(`nodemailer: ${failed.length} of ${results.length} failed: ${failed[0].reason}`);
        process.exit(1);
    }
}

main().catch(e => {
    console.error(`nodemailer: ${e}`);
    process.exit(1);
});

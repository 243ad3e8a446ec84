// Package routing decides where a patient should be seen, deterministically.
//
// It holds the service directory model (services with tiers, opening
// sessions in Europe/London, bank holidays, capacity, RAG status and
// eligibility), the Route decision that walks tiers from a minimum upward
// and records why every other service was rejected, GP practice allocation
// and registration, patient matching, NHS number validation, and a Standard
// Webhooks notifier used by the dispatch outbox.
//
// Decision code is pure: time, directory and load are arguments, so the
// replicated state machine can call it inside raft Apply. Nothing in this
// package reads the clock, uses randomness or performs I/O, except the
// Notifier, which posts webhooks. Everything stored is JSON-serialisable
// with snake_case field names. routing imports nothing from the project.
//
// Webhook secrets are in the Standard Webhooks form "whsec_<base64>" (the
// HMAC key is the decoded bytes); a secret set from logic version 8 must be
// that form with at least 24 bytes (ValidateSecret), while one stored
// earlier in any other non-empty form still signs, as raw key bytes.
// Where a webhook may be sent is decided by webhookpolicy.go. Signatures are "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" in the webhook-signature header.
package routing

package cluster

import (
	"fmt"
	"time"
)

// Badger key layout. Every record type has its own prefix; secondary indexes
// are empty-valued keys whose order is the query order. Numbers are
// zero-padded so byte order is numeric order.
//
//	m/applied                       applied raft index (8 bytes, big endian)
//	m/clock                         FSM clock (RFC 3339 nano)
//	c/join_token_hash               sha256 hex of the join token
//	n/<node id>                     Node registry record
//	i/<idempotency key>             idempotency record (route, body hash, first Result, FSM time stored)
//	ix/<time>/<idempotency key>     idempotency records by FSM time stored, for 24 h expiry (idempotency.go)
//	a/<id>                          Attendance
//	ax/arrival/<time>/<id>          every attendance by arrival
//	ax/status/<status>/<time>/<id>  attendance by status, then arrival
//	ax/nhs/<nhs>/<time>/<id>, ax/patient/<patient id>/<time>/<id>  attendances of one person (previous contacts)
//	u/<entity>/<index>/<seq>        audit events of one entity in log order
//	k/id/<id>, k/hash/<sha256>, k/gen   API keys (access.go)
//	sx/directory, sx/gen, s/<id>, pr/<ods>   service directory, practices (directory.go)
//	sl/t/..., sl/s/..., sl/p/...            slots and places taken (directory.go)
//	p/<id>, px/{nhs,dob,fam,pc}/<v>/<id>    patients and their matching keys (patient.go)
//	r/<id>, rx/state/<state>/<id>           GP registrations (registration.go)
//	dp/<id>, dpa/<att>/<id>, dpo/<id>, dpe/<index>/<id>   dispatches, by attendance, open, change events (dispatch.go)
//	ob/<webhook id>, obq/<webhook id>       dispatch webhook outbox and its undelivered entries (dispatch.go)
//	al/<id>, alo/<id>                       alerts and the unacknowledged ones (alert.go)
//	pv/b/<hash>, pv/v/<id>/<ver>, pv/s/<set>, pv/active   protocol files, versions, sets (protocolset.go)
//	ev/<index>/<attendance id>              queue change feed, last 4096 indexes (queue.go)
//	evp/<prefix>                            the last event of a feed pruned (dispatch.go pruneEvents)
//	ap/<id>/{s,r}, ap/<id>/{an,rh}/<seq>    an attendance's parts beside a/<id> (care/record.go)
//	(triage sessions live in the attendance's record a/<id> up to logic version 4, in ap/<id>/s after)
const (
	keyApplied       = "m/applied"
	keyClock         = "m/clock"
	keyJoinTokenHash = "c/join_token_hash"
	keyClusterCA     = "c/ca"
	prefixNode       = "n/"
	prefixIdem       = "i/"
	prefixIdemByTime = "ix/"
	prefixAudit      = "u/"
)

// SortableTime formats t so that byte order is time order (UTC, fixed width).
func SortableTime(t time.Time) string {
	return fmt.Sprintf("%020d", t.UTC().UnixNano())
}

func keyAudit(entity string, index uint64, seq int) string {
	return fmt.Sprintf("%s%s/%020d/%04d", prefixAudit, entity, index, seq)
}

func keyNode(id string) string { return prefixNode + id }

func keyIdem(key string) string { return prefixIdem + key }

func keyIdemByTime(at time.Time, key string) string {
	return prefixIdemByTime + SortableTime(at) + "/" + key
}

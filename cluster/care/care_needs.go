package care

import (
	"fmt"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// Care needs decide the service, and the practice question.
// Logic version 4 introduced, for commands proposed under it:
//   - routing explains itself in words (routing.RulesWords): a missing
//     care need named in words, a dedicated service's care in words, the
//     gap and the fallback with a reason; the audit of a route names a gap;
//   - the attendance context's registered_practice (an ODS code or a
//     practice name from the directory, or "none"), stored as the ODS code
//     and used by routing when the patient record names no practice;
//   - a directory (directory.load) or service (service.put) providing a
//     care need outside routing's vocabulary is refused;
//   - (workflow.go) a clinician's override to another level of care routes
//     with that level's kind of care (routing.RetierCareNeeds).
// An entry of an older logic version decides as that version did.

// routingRules is the routing explanation version for logic version lv.
func routingRules(lv int) int {
	if lv >= directory.CareNeedsSince {
		return routing.RulesWords
	}
	return routing.RulesCodes
}

// PracticeNone is registered_practice for a person with no GP (or who does
// not know theirs); it is recorded as given and offers GP registration.
const PracticeNone = "none"

// maxPracticeLen bounds registered_practice (a practice name).
const maxPracticeLen = 200

// validatePractice checks registered_practice's shape (pure); whether the
// practice exists is checked against the directory (resolvePractice).
func (c *TriageContext) validatePractice(f map[string]string) {
	if len(c.RegisteredPractice) > maxPracticeLen {
		f["context.registered_practice"] = "too long"
	}
}

// refuseBeforeV4 is the refusal of an entry of logic version lv that
// carries registered_practice, which binaries before version 4 did not know
// (nil when it does not, or lv >= 4).
func (a *AttendanceCreate) refuseBeforeV4(lv int) *cluster.CommandError {
	if lv >= directory.CareNeedsSince || a.Context == nil || a.Context.RegisteredPractice == "" {
		return nil
	}
	return cluster.Invalid(map[string]string{"context.registered_practice": fmt.Sprintf("not known at logic version %d", lv)})
}

// practiceProblem is the field message for a practice the directory does
// not have.
const practiceProblem = `no GP practice with that ODS code or name (GET /v1/practices lists them); "none" for no GP or not known`

// resolvePractice turns registered_practice into what is stored: "none",
// or the ODS code of the directory's practice whose ODS code or name it is
// (either case, spaces around ignored). It refuses a practice the
// directory does not have, and a name two practices share. Pure.
func resolvePractice(dir *routing.Directory, given string) (string, *cluster.CommandError) {
	g := strings.TrimSpace(given)
	if strings.EqualFold(g, PracticeNone) {
		return PracticeNone, nil
	}
	if dir == nil {
		return "", cluster.Invalid(map[string]string{"context.registered_practice": "no service directory has been loaded, so no practice is known"})
	}
	found := ""
	for _, p := range dir.Practices {
		if strings.EqualFold(p.ODSCode, g) {
			return p.ODSCode, nil
		}
	}
	for _, p := range dir.Practices {
		if strings.EqualFold(strings.TrimSpace(p.Name), g) {
			if found != "" {
				return "", cluster.Invalid(map[string]string{"context.registered_practice": "more than one practice has that name: give the ODS code"})
			}
			found = p.ODSCode
		}
	}
	if found == "" {
		return "", cluster.Invalid(map[string]string{"context.registered_practice": practiceProblem})
	}
	return found, nil
}

// resolveContextPractice stores the context's registered_practice as the
// ODS code (or "none") inside Apply, refusing an unknown practice.
func resolveContextPractice(tx *cluster.Tx, ctx *TriageContext) error {
	if ctx == nil || ctx.RegisteredPractice == "" || tx.LogicVersion() < directory.CareNeedsSince {
		return nil
	}
	dir, err := directory.ReadDirectory(tx)
	if err != nil {
		return err
	}
	ods, ce := resolvePractice(dir, ctx.RegisteredPractice)
	if ce != nil {
		return ce
	}
	ctx.RegisteredPractice = ods
	return nil
}

// CheckRegisteredPractice is the handler's check of the attendance's
// registered_practice against the directory it reads: the *CommandError
// Apply would return for a practice it does not have (nil when fine).
func (v State) CheckRegisteredPractice(req *AttendanceCreate) error {
	if req.Context == nil || req.Context.RegisteredPractice == "" {
		return nil
	}
	dir, err := directory.ReadDirectory(v.r)
	if err != nil {
		return err
	}
	if _, ce := resolvePractice(dir, req.Context.RegisteredPractice); ce != nil {
		return ce
	}
	return nil
}

// contextPractice is the ODS code of the practice the attendance's context
// names ("" for none, not known, or before logic version 4).
func contextPractice(tx commandStamp, a *Attendance) string {
	if tx.LogicVersion() < directory.CareNeedsSince || a.Context == nil || a.Context.RegisteredPractice == PracticeNone {
		return ""
	}
	return a.Context.RegisteredPractice
}

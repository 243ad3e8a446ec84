package triage

import "strings"

// DxInfo is what an NHS 111 disposition code means in frontdoor's tiers.
type DxInfo struct {
	Code      string    `json:"code"`
	Tier      Tier      `json:"tier"`
	Timeframe Timeframe `json:"timeframe"`
	Meaning   string    `json:"meaning"`
}

// Dx codes frontdoor itself emits for global checks.
const (
	// DxAmbulanceCat1 is used for not breathing / unconscious (category 1).
	DxAmbulanceCat1 = "Dx011"
	// DxAmbulance is the default 999 ambulance code for other immediately
	// life-threatening outcomes of NHS 111 callers.
	DxAmbulance = "Dx012"
	DxED1h      = "Dx02"
	DxED4h      = "Dx03"
	DxGP2h      = "Dx05"
	DxGP6h      = "Dx06"
	DxPharmacy  = "Dx28"
	DxSelfCare  = "Dx25"
	// DxRapidResponse is frontdoor's local code for urgent community response.
	DxRapidResponse = "Dx9001"
	// DxClinicianNow is frontdoor's local code for a walk-in's assessment by
	// the centre's clinician now (a streaming outcome, not a transfer to ED).
	DxClinicianNow = "Dx9002"
	// DxSpeakTo1h is NHS 111's "speak to a primary care service within 1
	// hour": frontdoor's clinician call-back for an NHS 111 caller.
	DxSpeakTo1h = "Dx11"
)

// DxOutcome maps a well-formed NHS 111 Dx code (the table in the domain brief)
// to a tier and timeframe. Unmapped or malformed codes return ok=false.
func DxOutcome(code string) (DxInfo, bool) {
	if !dxRE.MatchString(code) {
		return DxInfo{}, false
	}
	num := strings.TrimPrefix(code, "Dx")
	info := DxInfo{Code: code}
	switch {
	case len(num) >= 3 && num[:2] == "01" && num[2] >= '0' && num[2] <= '6':
		// Dx010-Dx016 and their sub-codes (Dx0162 ...): 999 ambulance.
		info.Tier, info.Timeframe, info.Meaning = ED, Immediate, "emergency ambulance response (999)"
		return info, true
	}
	switch num {
	case "02":
		info.Tier, info.Timeframe, info.Meaning = ED, Within1h, "attend an emergency department within 1 hour"
	case "03":
		info.Tier, info.Timeframe, info.Meaning = ED, Within4h, "attend an emergency treatment centre within 4 hours"
	case "05":
		info.Tier, info.Timeframe, info.Meaning = GP, Within2h, "contact primary care within 2 hours"
	case "06":
		info.Tier, info.Timeframe, info.Meaning = GP, Within6h, "contact primary care within 6 hours"
	case "07":
		info.Tier, info.Timeframe, info.Meaning = GP, Within12h, "contact primary care within 12 hours"
	case "08":
		info.Tier, info.Timeframe, info.Meaning = GP, Within24h, "contact primary care within 24 hours"
	case "11":
		info.Tier, info.Timeframe, info.Meaning = GP, Within1h, "speak to a primary care service within 1 hour"
	case "12":
		info.Tier, info.Timeframe, info.Meaning = GP, Within2h, "speak to a primary care service within 2 hours"
	case "13":
		info.Tier, info.Timeframe, info.Meaning = GP, Within6h, "speak to a primary care service within 6 hours"
	case "14":
		info.Tier, info.Timeframe, info.Meaning = GP, Within12h, "speak to a primary care service within 12 hours"
	case "15":
		info.Tier, info.Timeframe, info.Meaning = GP, Within24h, "speak to a primary care service within 24 hours"
	case "28":
		info.Tier, info.Timeframe, info.Meaning = Pharmacy, Within12h, "contact a pharmacist"
	case "9001":
		// Not an NHS 111 code: frontdoor's local code for the 2-hour urgent
		// community response (domain brief: rapid_response is "(local)").
		info.Tier, info.Timeframe, info.Meaning = RapidResponse, Within2h, "urgent community response at home within 2 hours (frontdoor local code)"
	case "9002":
		info.Tier, info.Timeframe, info.Meaning = GP, Immediate, "assessment by the centre's clinician now (frontdoor local code)"
	case "25":
		info.Tier, info.Timeframe, info.Meaning = SelfCare, NoTime, "self care at home with care advice"
	default:
		return DxInfo{}, false
	}
	return info, true
}

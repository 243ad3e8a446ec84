package api

// The words /openapi.json gives the fields and query parameters that are
// not obvious from their names: "<Go type>.<json name>" for a schema
// property, "<METHOD> <fiber path>?<name>" for a query parameter.

var fieldDocs = map[string]string{
	// POST /v1/attendances: what is known for triage.
	"AttendanceCreate.context":       "What is known for triage at arrival (every field optional); see TriageContext.",
	"AttendanceCreate.clinician_now": "Reception saw a life threat at the door: ed/immediate at once, before any question.",
	"TriageContext.age_years":        "Age in whole years when no date of birth is known (0-130). Give at most one of age_years, age_months, age_weeks, age_days; patient.date_of_birth wins over all of them.",
	"TriageContext.age_months":       "Age in months (0-1560) for a child without a date of birth; reaches the engine as days (months x 1461/48).",
	"TriageContext.age_weeks":        "Age in weeks (0-6760) for a baby without a date of birth; reaches the engine as days (weeks x 7): 9 weeks = 63 days, so NICE NG143's under-3-months rule applies.",
	"TriageContext.age_days":         "Age in days (0-47450) without a date of birth.",
	"TriageContext.sex":              "female, male or unknown.",
	"TriageContext.pregnant":         "yes, no or unknown. NEWS2 is not applied in pregnancy; the NICE NG133 maternity check is.",
	"TriageContext.gestation_weeks":  "Completed weeks of pregnancy (0-45); implies pregnant (pregnant must be yes or left out). From 20 weeks the NG133 pre-eclampsia questions and check apply.",
	"TriageContext.postnatal_weeks":  "Weeks since giving birth (0-52); the NG133 check applies for 6 weeks after a birth.",
	"TriageContext.flags":            "Context flags: pregnant, usual_residence (at their usual home: urgent community response needs it), immunosuppressed, anticoagulated, carer_very_worried, fever, infection (the NG51 sepsis questions apply), dnacpr (changes resuscitation advice only, never the tier), advance_care_plan (routed by the plan: their palliative team or hospice line first), alone (the worry question asks about their own worry).",
	"TriageContext.observations":     "Vital signs measured at arrival; they are scored at once (NEWS2, NG51 sepsis, NG143, NG133) and raise while questions remain.",
	"TriageContext.earlier_contacts": "Earlier contacts about this problem the patient reports (at most 20). The repeat-contact check counts max(contacts with this centre on record, reported this_centre) + the other reported ones: two or more in 96 hours means a clinician reviews them (gp 2h, Dx05).",
	"EarlierContact.service":         "Who they contacted: nhs111, gp, this_centre, ed or other.",
	"EarlierContact.hours_ago":       "How long ago, in hours (0-96).",
	"Observations.respiratory_rate":  "Breaths per minute (0-80).",
	"Observations.spo2":              "Oxygen saturation % (40-100).",
	"Observations.spo2_scale2":       "The patient has a prescribed 88-92% target (NEWS2 SpO2 scale 2).",
	"Observations.on_oxygen":         "The patient is on supplemental oxygen (NEWS2 scores it 2).",
	"Observations.systolic_bp":       "Systolic blood pressure, mmHg (30-300).",
	"Observations.diastolic_bp":      "Diastolic blood pressure, mmHg (20-200); not part of NEWS2, used by the NICE NG133 maternity check (110 or more: severe hypertension).",
	"Observations.pulse":             "Heart rate per minute (0-300).",
	"Observations.consciousness":     "ACVPU: alert, confusion, voice, pain or unresponsive.",
	"Observations.temperature_c":     "Temperature in degrees Celsius (25-45).",
	"addressBody.postcode":           "Where the patient is now (a UK postcode). An attendance awaiting_address (a rapid response need) is routed at once.",
	"addressBody.address":            "The street address for the team (dispatch.address).",
	"addressBody.access_notes":       "Key safe, door code, a dog.",
	"confirmBody.note":               "The clinician's note. On an attendance awaiting_clinician the confirm settles the clinician-first floor: the disposition becomes its then (never below an NHS 111 Dx floor) and is routed.",

	// The practice question (from logic version 4).
	"TriageContext.registered_practice": "Who the person says their GP practice is: an ODS code or a practice name as GET /v1/practices lists them (any case), or \"none\" (no GP, or they do not know). Stored as the ODS code (\"none\" as given; GP registration is offered). Routing sends a GP-level outcome to that practice first when it is open with capacity, the centre's GP service otherwise; a linked patient record's gp_practice wins. An unknown practice is refused (422). From logic version 4.",
}

var queryDocs = map[string]string{
	"GET /v1/protocols?q":          "The complaint in the person's own words (a whole sentence is fine: stems, misspellings and negations such as \"no rash\" are understood). The answer's search lists the matching presentations best first, each with the words that matched and why; [] when nothing matches.",
	"GET /v1/protocols?search":     "Same as q.",
	"GET /v1/protocols?age_years":  "The person's age, if known (give one of age_years, age_months, age_weeks, age_days): presentations they do not usually have are ranked lower, never hidden.",
	"GET /v1/protocols?age_months": "Age in months (a baby or toddler).",
	"GET /v1/protocols?age_weeks":  "Age in weeks (a baby).",
	"GET /v1/protocols?age_days":   "Age in days (a newborn).",
	"GET /v1/protocols?sex":        "female, male or unknown: ranks presentations (a pregnancy protocol lower for a man), never hides one.",
	"GET /v1/queue?stream":         "clinician_callback: the clinician's call-back worklist (NHS 111 callers awaiting a call-back); clinician_now: walk-ins awaiting the centre's clinician. Soonest clinician_due first.",
}

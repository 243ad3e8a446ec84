package bars

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// A frontdoor Slot is one session of a slot-capacity service: its id is
// <service id>.<session start, unix seconds>, free while a place is left
// (the comment says how many). A booking takes one place of it.

// SlotID names a session as a Slot.
func SlotID(serviceID string, start time.Time) string {
	return serviceID + "." + strconv.FormatInt(start.Unix(), 10)
}

// ParseSlotID reads SlotID's form (ok false for any other id).
func ParseSlotID(id string) (serviceID string, start time.Time, ok bool) {
	i := strings.LastIndexByte(id, '.')
	if i <= 0 {
		return "", time.Time{}, false
	}
	sec, err := strconv.ParseInt(id[i+1:], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return id[:i], time.Unix(sec, 0).UTC(), true
}

// Slot renders a session as a FHIR Slot.
func Slot(s routing.SessionSlots, name string) fhir.Slot {
	status := fhir.SlotStatusFree
	if s.Free() == 0 {
		status = fhir.SlotStatusBusy
	}
	return fhir.Slot{
		Id:       ptr(SlotID(s.ServiceID, s.Start)),
		Meta:     &fhir.Meta{Profile: []string{"https://fhir.hl7.org.uk/StructureDefinition/UKCore-Slot"}},
		Schedule: fhir.Reference{Reference: ptr("Schedule/" + s.ServiceID), Display: ptr(name)},
		Status:   status,
		Start:    s.Start.UTC().Format(time.RFC3339),
		End:      s.End.UTC().Format(time.RFC3339),
		Comment:  ptr(fmt.Sprintf("%d of %d places free", s.Free(), s.Slots)),
	}
}

// Appointment renders an appointment as a UK Core Appointment.
func Appointment(ap *care.Appointment) fhir.Appointment {
	status, ok := map[string]fhir.AppointmentStatus{
		care.AppointmentCancelled: fhir.AppointmentStatusCancelled,
		care.AppointmentNoShow:    fhir.AppointmentStatusNoshow,
		care.AppointmentArrived:   fhir.AppointmentStatusArrived,
		care.AppointmentFulfilled: fhir.AppointmentStatusFulfilled,
	}[ap.Status]
	if !ok {
		status = fhir.AppointmentStatusBooked
	}
	out := fhir.Appointment{
		Id:         ptr(ap.ID),
		Meta:       &fhir.Meta{Profile: []string{"https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment"}},
		Identifier: []fhir.Identifier{{System: ptr(SystemSenderAppointment), Value: ptr(ap.AppointmentID)}},
		Status:     status,
		Start:      ptr(ap.SessionStart.UTC().Format(time.RFC3339)),
		End:        ptr(ap.SessionEnd.UTC().Format(time.RFC3339)),
		Slot:       []fhir.Reference{{Reference: ptr("Slot/" + SlotID(ap.ServiceID, ap.SessionStart))}},
		// The service that holds the place takes part; the attendance
		// (an Encounter, which is not a participant type in R4) is
		// supporting information.
		Participant: []fhir.AppointmentParticipant{
			{Actor: &fhir.Reference{Reference: ptr("HealthcareService/" + ap.ServiceID)}, Status: fhir.ParticipationStatusAccepted},
		},
		SupportingInformation: []fhir.Reference{{Reference: ptr("Encounter/" + ap.AttendanceID)}},
	}
	if ap.PatientID != "" {
		out.Participant = append(out.Participant, fhir.AppointmentParticipant{
			Actor: &fhir.Reference{Reference: ptr("Patient/" + ap.PatientID)}, Status: fhir.ParticipationStatusAccepted})
	}
	return out
}

// SystemSenderAppointment identifies the sender's Appointment id.
const SystemSenderAppointment = "https://fhir.nhs.uk/Id/bars-sender-appointment-id"

// Booking is what a booking-request message asks.
type Booking struct {
	Cancel  bool
	Create  care.BookingCreate
	Cancels care.BookingCancel
	// Target is the service NHSD-Target-Identifier names; a booking by
	// Slot books the Slot's service (Create.Target), which must be it.
	Target string
	// SlotPath is the element naming the Slot, for the refusal when its
	// service is not Target.
	SlotPath string
	// Start is the Appointment's start beside a Slot (zero when none),
	// which must fall in the Slot's session; StartPath names it.
	Start     time.Time
	StartPath string
}

// ToBooking maps a booking-request: the focus Appointment (status booked:
// book; cancelled: cancel), its Slot (a frontdoor Slot id, else the
// Appointment's start names the session) and its Patient participant.
func ToBooking(m *Message, target string) (*Booking, *Error) {
	e := m.focus
	if e.rtype != "Appointment" {
		return nil, BadRequest(fhir.IssueTypeInvalid, "MessageHeader.focus[0].reference", "a booking-request's focus must be an Appointment, not "+e.rtype)
	}
	var ap fhir.Appointment
	if err := decode(e, &ap); err != nil {
		return nil, err
	}
	apID := e.resourceID()
	if apID == "" || len(apID) > 64 {
		return nil, BadRequest(fhir.IssueTypeRequired, e.path("id"), "the Appointment needs an id (or a urn:uuid fullUrl) of at most 64 characters")
	}
	bk := &Booking{}
	switch ap.Status {
	case fhir.AppointmentStatusBooked:
	case fhir.AppointmentStatusCancelled:
		bk.Cancel = true
		bk.Cancels = care.BookingCancel{MessageID: m.ID, AppointmentID: apID, Target: target}
		return bk, nil
	default:
		return nil, BadRequest(fhir.IssueTypeValue, e.path("status"), "a booking's Appointment.status is booked (or cancelled to cancel), not "+ap.Status.Code())
	}
	c := &bk.Create
	c.MessageID, c.AppointmentID, c.Target = m.ID, apID, target
	bk.Target = target
	if len(ap.Slot) > 1 {
		// A place is one Slot: which would be booked?
		return nil, BadRequest(fhir.IssueTypeBusinessRule, e.path("slot[1]"), "an Appointment books one Slot, not several")
	}
	for i, sl := range ap.Slot {
		if sl.Reference == nil {
			continue
		}
		ref, local := strings.CutPrefix(*sl.Reference, "Slot/")
		svc, start, ok := ParseSlotID(ref)
		if ok {
			c.Target, c.At = svc, start
			bk.SlotPath = e.path(fmt.Sprintf("slot[%d].reference", i))
		} else if local {
			// A Slot of this server that GET /Slot never gave: say so,
			// not what booking by the start would make of it.
			return nil, &Error{Status: http.StatusUnprocessableEntity, Issues: []Issue{{Code: fhir.IssueTypeNotFound,
				Expression: e.path(fmt.Sprintf("slot[%d].reference", i)), Diagnostics: "no Slot " + ref + " here: GET /Slot lists them (ids are <service>.<start>)"}}}
		}
	}
	if ap.Start != nil {
		t, err := time.Parse(time.RFC3339, *ap.Start)
		if err != nil {
			return nil, BadRequest(fhir.IssueTypeValue, e.path("start"), "start is not a FHIR dateTime with an offset")
		}
		if c.At.IsZero() {
			c.At = t.UTC()
		} else {
			bk.Start, bk.StartPath = t.UTC(), e.path("start")
		}
	}
	if c.At.IsZero() {
		return nil, BadRequest(fhir.IssueTypeRequired, e.path("start"), "the Appointment needs a start (or a Slot from GET /Slot)")
	}
	a := &c.Attendance
	a.Channel, a.Expected = care.ChannelNHS111, true
	a.Complaint = "NHS 111 booking"
	if ap.Description != nil && strings.TrimSpace(*ap.Description) != "" {
		a.Complaint = strings.TrimSpace(*ap.Description)
	}
	a.CaseRef = apID
	hasPatient := false
	for _, p := range ap.Participant {
		if p.Actor == nil || p.Actor.Reference == nil {
			continue
		}
		pe := m.resolve(*p.Actor.Reference)
		if pe == nil || pe.rtype != "Patient" {
			continue
		}
		pc, pat, err := readPatient(pe)
		if err != nil {
			return nil, err
		}
		a.Patient, hasPatient = pat, true
		if pc.NHSNumber != "" {
			c.Patient = pc
		}
		break
	}
	if !hasPatient {
		// The booking-request MessageDefinition has Patient min 1: a place
		// held for nobody in particular cannot be checked in.
		return nil, BadRequest(fhir.IssueTypeRequired, e.path("participant"), "a booking's Appointment needs a participant whose actor is the Patient in the Bundle")
	}
	return bk, nil
}

// BookingResponse is the $process-message answer to a booking: the
// MessageHeader answering the request and the Appointment as held.
func BookingResponse(messageID string, ap *care.Appointment, a *care.Attendance) ([]byte, error) {
	hdr := fhir.MessageHeader{
		Id:          ptr(ap.ID + "-" + itoa(int(ap.UpdatedIndex))),
		Meta:        &fhir.Meta{Profile: []string{"https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-booking-response"}},
		EventCoding: fhir.Coding{System: ptr("https://fhir.nhs.uk/CodeSystem/message-events-bars"), Code: ptr(EventBooking)},
		Source:      fhir.MessageHeaderSource{Name: ptr("frontdoor"), Endpoint: "urn:frontdoor:" + ap.ServiceID},
		Response:    &fhir.MessageHeaderResponse{Identifier: messageID, Code: fhir.ResponseTypeOk},
		Focus:       []fhir.Reference{{Reference: ptr("Appointment/" + ap.ID)}},
	}
	return messageBundle(*hdr.Id, a.ArrivedAt, []any{hdr, Appointment(ap), Encounter(a)})
}

package bars

import (
	"encoding/json"
	neturl "net/url"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// capabilityDate is when this CapabilityStatement last changed.
const capabilityDate = "2026-12-06"

// CapabilityStatement says what this receiver supports, and nothing more:
// $process-message for servicerequest-request (referrals, validations,
// cancellations) and booking-request (book, cancel), MessageDefinition
// and Slot search, and UK Core reads of Patient, Encounter,
// ServiceRequest, Appointment and Observation (search by encounter).
func CapabilityStatement(base, version string) ([]byte, error) {
	read := []fhir.CapabilityStatementRestResourceInteraction{{Code: fhir.TypeRestfulInteractionRead}}
	readUpdate := []fhir.CapabilityStatementRestResourceInteraction{{Code: fhir.TypeRestfulInteractionRead},
		{Code: fhir.TypeRestfulInteractionUpdate}, {Code: fhir.TypeRestfulInteractionPatch}}
	cs := fhir.CapabilityStatement{
		Id:             ptr("frontdoor-bars-receiver"),
		Url:            ptr(base + "/metadata"),
		Name:           ptr("FrontdoorBaRSReceiver"),
		Title:          ptr("frontdoor: BaRS receiver for an urgent care centre"),
		Status:         fhir.PublicationStatusActive,
		Date:           capabilityDate,
		Publisher:      ptr("frontdoor"),
		Kind:           fhir.CapabilityStatementKindInstance,
		Software:       &fhir.CapabilityStatementSoftware{Name: "frontdoor", Version: ptr(version)},
		Implementation: &fhir.CapabilityStatementImplementation{Description: "frontdoor BaRS receiver", Url: ptr(base)},
		FhirVersion:    fhir.FHIRVersion4_0_1,
		Format:         []string{"json"},
		Rest: []fhir.CapabilityStatementRest{{
			Mode: fhir.RestfulCapabilityModeServer,
			Resource: []fhir.CapabilityStatementRestResource{
				{Type: fhir.ResourceTypeMessageDefinition, Interaction: []fhir.CapabilityStatementRestResourceInteraction{{Code: fhir.TypeRestfulInteractionSearchType}},
					SearchParam: []fhir.CapabilityStatementRestResourceSearchParam{{Name: "url", Type: fhir.SearchParamTypeUri}}},
				{Type: fhir.ResourceTypePatient, SupportedProfile: []string{profilePatient}, Interaction: read},
				{Type: fhir.ResourceTypeEncounter, SupportedProfile: []string{profileEncounter}, Interaction: read},
				{Type: fhir.ResourceTypeServiceRequest, SupportedProfile: []string{profileServiceRequest}, Interaction: readUpdate},
				{Type: fhir.ResourceTypeSlot, SupportedProfile: []string{"https://fhir.hl7.org.uk/StructureDefinition/UKCore-Slot"}, Interaction: []fhir.CapabilityStatementRestResourceInteraction{{Code: fhir.TypeRestfulInteractionSearchType}},
					SearchParam: []fhir.CapabilityStatementRestResourceSearchParam{{Name: "status", Type: fhir.SearchParamTypeToken}, {Name: "start", Type: fhir.SearchParamTypeDate}}},
				{Type: fhir.ResourceTypeAppointment, SupportedProfile: []string{"https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment"}, Interaction: readUpdate,
					Documentation: ptr("update and patch take status cancelled only (the place is freed)")},
				{Type: fhir.ResourceTypeObservation, SupportedProfile: []string{profileObservation},
					Interaction: []fhir.CapabilityStatementRestResourceInteraction{{Code: fhir.TypeRestfulInteractionSearchType}},
					SearchParam: []fhir.CapabilityStatementRestResourceSearchParam{{Name: "encounter", Type: fhir.SearchParamTypeReference}}},
			},
			Operation: []fhir.CapabilityStatementRestResourceOperation{{
				Name: "process-message", Definition: "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message",
			}},
		}},
		// FHIR messaging: the messages taken at $process-message, each by
		// its MessageDefinition (GET /MessageDefinition).
		Messaging: []fhir.CapabilityStatementMessaging{{
			Endpoint: []fhir.CapabilityStatementMessagingEndpoint{{
				Protocol: fhir.Coding{System: ptr("http://terminology.hl7.org/CodeSystem/message-transport"), Code: ptr("http"), Display: ptr("HTTP")},
				Address:  base + "/$process-message",
			}},
			Documentation: ptr("synchronous: the response Bundle is the answer to the POST"),
			SupportedMessage: []fhir.CapabilityStatementMessagingSupportedMessage{
				{Mode: fhir.EventCapabilityModeReceiver, Definition: MessageDefinitionServiceRequest},
				{Mode: fhir.EventCapabilityModeReceiver, Definition: MessageDefinitionBooking},
			},
		}},
	}
	return json.Marshal(cs)
}

// The canonical URLs of the MessageDefinitions this receiver takes, and
// the BaRS version they are of.
const (
	BaRSVersion                     = "1.4.0"
	MessageDefinitionServiceRequest = "https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request"
	MessageDefinitionBooking        = "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request"
)

// MessageDefinitions is the searchset of the messages this receiver takes
// (servicerequest-request and booking-request with their focus
// resources), or of the one whose canonical url is url when url is given.
func MessageDefinitions(base, url string) ([]byte, error) {
	max1, many := "1", "*"
	md := fhir.MessageDefinition{
		Id:          ptr("frontdoor-servicerequest-request"),
		Meta:        &fhir.Meta{Profile: []string{"https://fhir.nhs.uk/StructureDefinition/BARSMessageDefinition-ServiceRequest-Request"}},
		Url:         ptr(MessageDefinitionServiceRequest),
		Version:     ptr(BaRSVersion),
		Name:        ptr("FrontdoorServiceRequestRequest"),
		Title:       ptr("BaRS ServiceRequest - Request (referral from NHS 111 into an urgent care centre)"),
		Status:      fhir.PublicationStatusActive,
		Date:        capabilityDate,
		EventCoding: fhir.Coding{System: ptr("https://fhir.nhs.uk/CodeSystem/message-events-bars"), Code: ptr(EventServiceRequest)},
		Focus: []fhir.MessageDefinitionFocus{
			{Code: fhir.ResourceTypeBundle, Profile: ptr(bundleProfiles[0]), Min: 1, Max: &max1},
			{Code: fhir.ResourceTypeMessageHeader, Profile: ptr(headerProfiles(EventServiceRequest)[0]), Min: 1, Max: &max1},
			{Code: fhir.ResourceTypeServiceRequest, Profile: ptr(serviceRequestProfiles[0]), Min: 1, Max: &max1},
			{Code: fhir.ResourceTypePatient, Profile: ptr(profilePatient), Min: 1, Max: &max1},
			{Code: fhir.ResourceTypeEncounter, Profile: ptr(profileEncounter), Min: 0, Max: &max1},
			{Code: fhir.ResourceTypeObservation, Profile: ptr(profileObservation), Min: 0, Max: &many},
		},
	}
	booking := fhir.MessageDefinition{
		Id:          ptr("frontdoor-booking-request"),
		Meta:        &fhir.Meta{Profile: []string{"https://fhir.nhs.uk/StructureDefinition/BARSMessageDefinition-Booking-Request"}},
		Url:         ptr(MessageDefinitionBooking),
		Version:     ptr(BaRSVersion),
		Name:        ptr("FrontdoorBookingRequest"),
		Title:       ptr("BaRS Booking - Request (a place in a session found with GET /Slot)"),
		Status:      fhir.PublicationStatusActive,
		Date:        capabilityDate,
		EventCoding: fhir.Coding{System: ptr("https://fhir.nhs.uk/CodeSystem/message-events-bars"), Code: ptr(EventBooking)},
		Focus: []fhir.MessageDefinitionFocus{
			{Code: fhir.ResourceTypeBundle, Profile: ptr(bundleProfiles[0]), Min: 1, Max: &max1},
			{Code: fhir.ResourceTypeMessageHeader, Profile: ptr(headerProfiles(EventBooking)[0]), Min: 1, Max: &max1},
			{Code: fhir.ResourceTypeAppointment, Profile: ptr("https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment"), Min: 1, Max: &max1},
			{Code: fhir.ResourceTypePatient, Profile: ptr(profilePatient), Min: 1, Max: &max1},
		},
	}
	self := base + "/MessageDefinition"
	if url == "" {
		return SearchSet(self, []any{md, booking})
	}
	// A canonical may carry its version: url|1.4.0.
	canon, version, versioned := strings.Cut(url, "|")
	var found []any
	for _, d := range []fhir.MessageDefinition{md, booking} {
		if *d.Url == canon && (!versioned || version == *d.Version) {
			found = append(found, d)
		}
	}
	return SearchSet(self+"?url="+neturl.QueryEscape(url), found)
}

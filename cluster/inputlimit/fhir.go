package inputlimit

import (
	"strings"
	"time"
)

// FHIRFields are the limits of a FHIR R4 resource's strings (the BaRS
// receiver's $process-message Bundles, issue 19), by element name: FHIR's
// own element names, which the clinic's table above does not fit (a FHIR
// "code" is a SNOMED or Pathways code, "start" a dateTime). Identifiers,
// codes, references and dates are Code class; narrative and notes Text.
// An element not listed takes FHIRDefault.
var FHIRFields = map[string]Limit{
	"resourceType": {64, Code},
	"id":           {64, Code}, // FHIR id: [A-Za-z0-9\-\.]{1,64}
	"fullUrl":      {500, Code},
	"reference":    {500, Code},
	"url":          {500, Code},
	"system":       {500, Code},
	"profile":      {500, Code},
	"endpoint":     {500, Code},
	"definition":   {500, Code},
	"code":         {200, Code},
	"version":      {100, Code},
	"status":       {64, Code},
	"use":          {64, Code},
	"gender":       {64, Code},
	"birthDate":    {10, Code},
	"start":        {40, Code},
	"end":          {40, Code},
	"lastUpdated":  {40, Code},
	"timestamp":    {40, Code},
	"authoredOn":   {40, Code},
	"postalCode":   {10, Code},
	"display":      {1000, Text},
	"text":         {10000, Text},
	"div":          {65536, Text}, // narrative XHTML
	"valueString":  {10000, Text},
	"description":  {10000, Text},
	"authorString": {1000, Name},
	"family":       {200, Name},
	"given":        {200, Name},
	"prefix":       {50, Name},
}

// FHIRDefault is the limit of a FHIR element not in FHIRFields.
var FHIRDefault = Limit{4000, Text}

// fhirLimitOf is a FHIR element's limit.
func fhirLimitOf(field string) Limit {
	if l, ok := FHIRFields[field]; ok {
		return l
	}
	if strings.HasPrefix(field, "value") { // valueCode, valueUri, valueDateTime ...
		return Limit{4000, Text}
	}
	return FHIRDefault
}

// CheckFHIR is Check for a FHIR JSON resource, with the FHIR table:
// strict UTF-8, no duplicate keys, no control or bidirectional-formatting
// characters where their class refuses them, depth and length limits.
func CheckFHIR(doc []byte, now time.Time) map[string]string {
	return checkWith(doc, now, fhirLimitOf)
}

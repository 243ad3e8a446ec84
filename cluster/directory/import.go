package directory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// KindDirectoryImport adds or updates GP practices, pharmacies and
// postcode coordinates taken from national data (ODS epraccur and
// edispensary, the ONS Postcode Directory), on top of the loaded
// directory. `frontdoor directory import` reads the files and sends them
// in chunks (postcodes first) to POST /v1/directory/import.
const KindDirectoryImport cluster.Kind = "directory.import"

// ImportAuditEntity is the audit entity of every import (GET
// /v1/audit?entity=directory/import).
const ImportAuditEntity = "directory/import"

// ImportSince is the logic version that introduced directory.import.
const ImportSince = 9

// ODS code shapes (NHS ODS): a GP practice is a letter and five digits
// (A81001); a pharmacy (dispensing contractor) is F and four letters or
// digits (FA123).
var (
	PracticeCodePattern = regexp.MustCompile(`^[A-Z][0-9]{5}$`)
	PharmacyCodePattern = regexp.MustCompile(`^F[A-Z0-9]{4}$`)
	// fullPostcode is a normalised full postcode (outward, space, inward).
	fullPostcode = regexp.MustCompile(`^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$`)
)

// Import limits: one command stays well under the API's 1 MiB body.
const (
	MaxImportPostcodes = 15000
	MaxImportOrgs      = 2000
)

// ImportedPharmacyNeeds are the care needs a newly imported pharmacy
// provides: the essential services of the community pharmacy contract
// (dispensing and repeat medicines, advice on self-care and minor
// illness). Advanced services (Pharmacy First, contraception) vary by
// pharmacy and are added by an admin (PUT /v1/services/{id}).
var ImportedPharmacyNeeds = []string{"minor_illness", "repeat_medicine", "self_care"}

// ImportedOrg is one organisation from an ODS file.
type ImportedOrg struct {
	ODSCode  string `json:"ods_code"`
	Name     string `json:"name"`
	Address  string `json:"address,omitempty"`
	Postcode string `json:"postcode"`
}

// Import is the payload of KindDirectoryImport. Postcodes are merged into
// the directory's postcode table (an entry for the same postcode is
// replaced). A practice is matched by ODS code; a pharmacy by the ODS code
// of a pharmacy-tier service, else it is created as service
// "ph-<code>" with PharmacySessions (none: never open until an admin sets
// its hours) and ImportedPharmacyNeeds. For an existing record only the
// national fields (name, address, postcode) change: catchments, list
// status, hours, capacity, status and provisions set locally are kept.
type Import struct {
	Postcodes        map[string]routing.LatLon `json:"postcodes,omitempty"`
	Practices        []ImportedOrg             `json:"practices,omitempty"`
	Pharmacies       []ImportedOrg             `json:"pharmacies,omitempty"`
	PharmacySessions []routing.Session         `json:"pharmacy_sessions,omitempty"`
}

// ImportCounts says what an import did to one kind of record.
type ImportCounts struct {
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// ImportResult is the value of KindDirectoryImport.
type ImportResult struct {
	Postcodes  ImportCounts `json:"postcodes"`
	Practices  ImportCounts `json:"practices"`
	Pharmacies ImportCounts `json:"pharmacies"`
}

// Changed reports whether the import changed anything.
func (r ImportResult) Changed() bool {
	return r.Postcodes.Added+r.Postcodes.Updated+r.Practices.Added+r.Practices.Updated+
		r.Pharmacies.Added+r.Pharmacies.Updated > 0
}

// Validate checks the payload's shape (pure): ODS codes, full normalised
// postcodes, coordinates in the United Kingdom, names, sizes.
func (in *Import) Validate() map[string]string {
	f := map[string]string{}
	if len(in.Postcodes) == 0 && len(in.Practices) == 0 && len(in.Pharmacies) == 0 {
		f["postcodes"] = "nothing to import: give postcodes, practices or pharmacies"
	}
	if len(in.Postcodes) > MaxImportPostcodes {
		f["postcodes"] = fmt.Sprintf("%d postcodes: at most %d in one import (send several)", len(in.Postcodes), MaxImportPostcodes)
	}
	if n := len(in.Practices) + len(in.Pharmacies); n > MaxImportOrgs {
		f["practices"] = fmt.Sprintf("%d practices and pharmacies: at most %d in one import (send several)", n, MaxImportOrgs)
	}
	for pc, ll := range in.Postcodes {
		switch {
		case !fullPostcode.MatchString(pc):
			f["postcodes."+pc] = "not a full postcode written as NormalisePostcode writes it"
		case ll.Lat < 49 || ll.Lat > 61 || ll.Lon < -9 || ll.Lon > 3:
			f["postcodes."+pc] = "coordinates outside the United Kingdom"
		}
	}
	checkOrgs := func(field string, orgs []ImportedOrg, code *regexp.Regexp, shape string) {
		seen := map[string]bool{}
		for i, o := range orgs {
			at := fmt.Sprintf("%s[%d]", field, i)
			switch {
			case !code.MatchString(o.ODSCode):
				f[at+".ods_code"] = fmt.Sprintf("%q is not an ODS code of %s", o.ODSCode, shape)
			case seen[o.ODSCode]:
				f[at+".ods_code"] = o.ODSCode + " is listed twice"
			}
			seen[o.ODSCode] = true
			if strings.TrimSpace(o.Name) == "" {
				f[at+".name"] = "required"
			} else if len(o.Name) > 200 {
				f[at+".name"] = "too long"
			}
			if len(o.Address) > MaxTextLen {
				f[at+".address"] = "too long"
			}
			if !fullPostcode.MatchString(o.Postcode) {
				f[at+".postcode"] = fmt.Sprintf("%q is not a full postcode written as NormalisePostcode writes it", o.Postcode)
			}
		}
	}
	checkOrgs("practices", in.Practices, PracticeCodePattern, "a GP practice (a letter and five digits, A81001)")
	checkOrgs("pharmacies", in.Pharmacies, PharmacyCodePattern, "a pharmacy (F and four letters or digits, FA123)")
	if len(f) == 0 {
		return nil
	}
	return f
}

// importPlan is what an import writes.
type importPlan struct {
	result    ImportResult
	postcodes map[string]routing.LatLon // the merged table; nil when unchanged
	services  []routing.Service         // added or changed
	practices []routing.Practice        // added or changed
}

// PlanImport checks in against dir (the directory in state) and says what
// it would change, or the fields that make it unacceptable. Pure: the
// HTTP layer runs it on a local read (422, nothing proposed), Apply on
// the current state.
func PlanImport(dir *routing.Directory, in *Import) (ImportResult, map[string]string) {
	p, f := planImport(dir, in)
	if f != nil {
		return ImportResult{}, f
	}
	return p.result, nil
}

func planImport(dir *routing.Directory, in *Import) (*importPlan, map[string]string) {
	if f := in.Validate(); f != nil {
		return nil, f
	}
	p := &importPlan{}
	merged := make(map[string]routing.LatLon, len(dir.Postcodes)+len(in.Postcodes))
	for k, v := range dir.Postcodes {
		merged[k] = v
	}
	for pc, ll := range in.Postcodes {
		old, ok := merged[pc]
		switch {
		case !ok:
			p.result.Postcodes.Added++
		case old != ll:
			p.result.Postcodes.Updated++
		default:
			p.result.Postcodes.Unchanged++
			continue
		}
		merged[pc] = ll
	}
	if p.result.Postcodes.Added+p.result.Postcodes.Updated > 0 {
		p.postcodes = merged
	}
	f := map[string]string{}
	located := func(at, pc string) bool {
		if _, ok := merged[pc]; !ok {
			f[at+".postcode"] = pc + " has no coordinates: it is not in the directory's postcode table nor in this import"
			return false
		}
		return true
	}
	practiceAt := map[string]int{}
	for i := range dir.Practices {
		practiceAt[dir.Practices[i].ODSCode] = i
	}
	for i, o := range in.Practices {
		if !located(fmt.Sprintf("practices[%d]", i), o.Postcode) {
			continue
		}
		j, ok := practiceAt[o.ODSCode]
		if !ok {
			p.result.Practices.Added++
			p.practices = append(p.practices, routing.Practice{ODSCode: o.ODSCode, Name: o.Name, Address: o.Address,
				Postcode: o.Postcode, ListOpen: true})
			continue
		}
		pr := dir.Practices[j]
		if pr.Name == o.Name && pr.Address == o.Address && pr.Postcode == o.Postcode {
			p.result.Practices.Unchanged++
			continue
		}
		if pr.Postcode != o.Postcode {
			pr.Lat, pr.Lon = 0, 0 // located by the new postcode
		}
		pr.Name, pr.Address, pr.Postcode = o.Name, o.Address, o.Postcode
		p.result.Practices.Updated++
		p.practices = append(p.practices, pr)
	}
	serviceAt := map[string]int{}
	pharmacyAt := map[string]int{}
	for i := range dir.Services {
		s := &dir.Services[i]
		serviceAt[s.ID] = i
		if s.Tier == routing.TierPharmacy && s.ODSCode != "" {
			if _, dup := pharmacyAt[s.ODSCode]; !dup {
				pharmacyAt[s.ODSCode] = i
			}
		}
	}
	for i, o := range in.Pharmacies {
		at := fmt.Sprintf("pharmacies[%d]", i)
		if !located(at, o.Postcode) {
			continue
		}
		j, ok := pharmacyAt[o.ODSCode]
		if !ok {
			id := "ph-" + strings.ToLower(o.ODSCode)
			if _, taken := serviceAt[id]; taken {
				f[at+".ods_code"] = "service " + id + " exists and is not the pharmacy " + o.ODSCode
				continue
			}
			svc := routing.Service{ID: id, Name: o.Name, Tier: routing.TierPharmacy, ODSCode: o.ODSCode,
				Address: o.Address, Postcode: o.Postcode, Sessions: append([]routing.Session(nil), in.PharmacySessions...),
				Capacity: routing.Capacity{Kind: routing.CapacitySlots}}
			for _, n := range ImportedPharmacyNeeds {
				svc.Provides = append(svc.Provides, routing.Provision{Need: n})
			}
			p.result.Pharmacies.Added++
			p.services = append(p.services, svc)
			continue
		}
		svc := dir.Services[j]
		if svc.Name == o.Name && svc.Address == o.Address && svc.Postcode == o.Postcode {
			p.result.Pharmacies.Unchanged++
			continue
		}
		if svc.Postcode != o.Postcode {
			svc.Lat, svc.Lon = 0, 0
		}
		svc.Name, svc.Address, svc.Postcode = o.Name, o.Address, o.Postcode
		p.result.Pharmacies.Updated++
		p.services = append(p.services, svc)
	}
	if len(f) > 0 {
		return nil, f
	}
	if !p.result.Changed() {
		return p, nil
	}
	// The directory as it would be must still be valid (sessions, the
	// postcode table, the service count).
	c := &routing.Directory{Name: dir.Name, CentrePostcode: dir.CentrePostcode, Postcodes: dir.Postcodes,
		ExtraBankHolidays: dir.ExtraBankHolidays}
	if p.postcodes != nil {
		c.Postcodes = p.postcodes
	}
	c.Services = append(make([]routing.Service, 0, len(dir.Services)+len(p.services)), dir.Services...)
	for _, s := range p.services {
		if j, ok := serviceAt[s.ID]; ok {
			c.Services[j] = s
		} else {
			c.Services = append(c.Services, s)
		}
	}
	c.Practices = append(make([]routing.Practice, 0, len(dir.Practices)+len(p.practices)), dir.Practices...)
	for _, pr := range p.practices {
		if j, ok := practiceAt[pr.ODSCode]; ok {
			c.Practices[j] = pr
		} else {
			c.Practices = append(c.Practices, pr)
		}
	}
	if err := c.ValidateStructure(); err != nil {
		field := "directory"
		if len(in.PharmacySessions) > 0 && strings.Contains(err.Error(), "session") {
			field = "pharmacy_sessions"
		}
		return nil, map[string]string{field: strings.TrimPrefix(err.Error(), routing.ErrInvalidDirectory.Error()+": ")}
	}
	return p, nil
}

func applyDirectoryImport(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in Import
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	dir, err := DirectoryFromState(tx)
	if err != nil {
		return nil, err
	}
	p, f := planImport(dir, &in)
	if f != nil {
		return nil, cluster.Invalid(f)
	}
	if !p.result.Changed() {
		return p.result, nil // the same files again: nothing to write
	}
	if p.postcodes != nil {
		var h DirectoryHeader
		if _, err := tx.Get(keyDirectory, &h); err != nil {
			return nil, err
		}
		// The table goes under its own key, the header keeps its hash
		// (DirectoryHeader.PostcodesSHA256).
		b, err := tx.PutJSON(keyPostcodes, p.postcodes)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		h.Postcodes = nil
		h.PostcodesSHA256 = hex.EncodeToString(sum[:])
		h.UpdatedIndex = tx.Index()
		if err := tx.Put(keyDirectory, &h); err != nil {
			return nil, err
		}
	}
	for i := range p.services {
		if err := tx.Put(PrefixService+p.services[i].ID, &p.services[i]); err != nil {
			return nil, err
		}
	}
	for i := range p.practices {
		if err := tx.Put(prefixPractice+p.practices[i].ODSCode, &p.practices[i]); err != nil {
			return nil, err
		}
	}
	touchDirectory(tx)
	tx.Audit("directory.import", ImportAuditEntity, map[string]any{"postcodes": p.result.Postcodes,
		"practices": p.result.Practices, "pharmacies": p.result.Pharmacies})
	return p.result, nil
}

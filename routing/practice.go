package routing

// Practice is a GP practice for registration.
type Practice struct {
	ODSCode   string   `json:"ods_code"`
	Name      string   `json:"name"`
	Address   string   `json:"address,omitempty"`
	Postcode  string   `json:"postcode"`
	Lat       float64  `json:"lat,omitempty"`
	Lon       float64  `json:"lon,omitempty"`
	Catchment []string `json:"catchment,omitempty"`
	ListOpen  bool     `json:"list_open"`
	// NoFixedAbode marks the practice designated to register patients
	// with no fixed abode or no proof of address.
	NoFixedAbode bool `json:"no_fixed_abode,omitempty"`
}

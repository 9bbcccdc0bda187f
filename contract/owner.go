package contract

// UpdateOwnerAssigned tells a case's workflow that a caseworker now owns the case
// at an office, so that it notifies them (the case file keeps the owner).
const UpdateOwnerAssigned = "owner-assigned"

// OwnerAssigned is who now owns the case at an office.
type OwnerAssigned struct {
	Office string `json:"office"`
	User   string `json:"user"`
}

package cases

// Change is a change of a case, as GET /api/v1/cases/stream sends it. It
// holds no personal data.
type Change struct {
	Type   string `json:"type"` // opened, the action's name, escalated, reminder, overdue
	Case   string `json:"case"`
	State  State  `json:"state"`
	Team   string `json:"team"`
	Grid   string `json:"grid"`
	Source string `json:"source"`
}

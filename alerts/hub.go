package alerts

// Event is a change of an episode, as GET /api/v1/alerts/stream sends it.
type Event struct {
	Type    string   `json:"type"` // pending, firing, resolved, acknowledged
	Episode *Episode `json:"episode"`
}

package api

// Names the external stream tests need (see export_test.go).
const (
	ProblemTooManyStreams = problemTooManyStreams
	ProblemUnavailable    = problemUnavailable
)

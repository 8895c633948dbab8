package iloq

// Exported for the external tests.
var (
	CanOrderAction  = canOrderAction
	CanReturnAction = canReturnAction
)

package care

import "github.com/frontdoor-ucc/frontdoor/cluster"

// Commands are the care command kinds, for cluster.Config.Commands.
func Commands() []cluster.Command {
	var out []cluster.Command
	for _, part := range [][]cluster.Command{addressCommands(), alertCommands(), attendanceCommands(), clinicianFirstCommands(), dispatchCommands(), patientCommands(), readAuditCommands(), referralCommands(), barsBookingCommands(), registrationCommands(), retentionCommands(), workflowCommands()} {
		out = append(out, part...)
	}
	return out
}

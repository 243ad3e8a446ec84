package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/protocols"
	"github.com/frontdoor-ucc/frontdoor/triage"
	"github.com/frontdoor-ucc/frontdoor/triage/complaint"
	"github.com/spf13/cobra"
)

// newProtocolsCmd is `frontdoor protocols`: lint, try and search the clinical
// protocols (embedded, or a directory being edited).
func newProtocolsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "protocols",
		Short: "Lint, try and search the triage protocols (illustrative, not clinically validated)",
	}
	cmd.AddCommand(newProtocolsLintCmd(), newProtocolsTryCmd(), newProtocolsSearchCmd())
	return cmd
}

func newProtocolsLintCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "lint [dir]",
		Short: "Check protocol files (the embedded set, or dir/*.yaml); errors as file:line with a fix hint",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, where, err := protocolFiles(args)
			if err != nil {
				return err
			}
			return runProtocolsLint(cmd.OutOrStdout(), files, where)
		},
	}
}

func protocolFiles(args []string) (map[string][]byte, string, error) {
	if len(args) == 0 || args[0] == "" {
		return protocols.Files(), "protocols", nil
	}
	files, err := protocols.ReadDir(args[0])
	if err != nil {
		return nil, "", err
	}
	if len(files) == 0 {
		return nil, "", fmt.Errorf("protocols lint: no *.yaml files in %s", args[0])
	}
	return files, strings.TrimSuffix(args[0], "/"), nil
}

func runProtocolsLint(out io.Writer, files map[string][]byte, where string) error {
	errs := triage.Lint(files)
	for _, e := range errs {
		e.File = where + "/" + e.File
		fmt.Fprintln(out, e.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("protocols lint: %d error(s) in %d file(s)", len(errs), len(files))
	}
	set, err := triage.NewSet(files)
	if err != nil {
		return err
	}
	// The coding (ECDS codes, Dx meanings) against the vendored code lists.
	cerrs, notes := triage.LintCoding(files)
	for _, e := range cerrs {
		e.File = where + "/" + e.File
		fmt.Fprintln(out, e.Error())
	}
	if len(cerrs) > 0 {
		return fmt.Errorf("protocols lint: %d coding error(s) (triage/coding/codes)", len(cerrs))
	}
	fmt.Fprintf(out, "%s: %d files OK (screen + %d presentations)\n", where, len(files), len(set.Presentations))
	fmt.Fprintf(out, "%s: coding OK; %s\n", where, localSummary(notes))
	return nil
}

// localSummary counts the local fallbacks the coding lint reported.
func localSummary(notes []triage.LintError) string {
	cc, dx, ecds := 0, 0, 0
	for _, n := range notes {
		switch {
		case strings.Contains(n.Message, "chief complaint"):
			cc++
		case strings.Contains(n.Message, "local code"):
			dx++
		default:
			ecds++
		}
	}
	return fmt.Sprintf("local fallbacks: %d presentations' chief complaints, %d outcomes' Dx, %d outcomes' ECDS codes", cc, dx, ecds)
}

type tryOptions struct {
	dir, answers string
	age, ageDays int
	sex          string
	pregnant     string
	channel      string
	contacts     int
	flags        []string
	temp         float64
	pulse, rr    int
	spo2, sbp    int
	avpu         string
}

func newProtocolsTryCmd() *cobra.Command {
	var o tryOptions
	cmd := &cobra.Command{
		Use:   "try <protocol-id>",
		Short: "Walk a protocol in the terminal (or with --answers file.yaml) and print the outcome with its explanation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProtocolsTry(cmd, args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "protocol directory to use instead of the embedded set")
	f.StringVar(&o.answers, "answers", "", "YAML file with patient: and answers: (case-file shape); unanswered questions take the harness defaults")
	f.IntVar(&o.age, "age", -1, "age in years (omit if unknown)")
	f.IntVar(&o.ageDays, "age-days", -1, "age in days, for infants")
	f.StringVar(&o.sex, "sex", "", "female | male | unknown")
	f.StringVar(&o.pregnant, "pregnant", "", "yes | no | unknown")
	f.StringVar(&o.channel, "channel", "", "walk_in | nhs111")
	f.IntVar(&o.contacts, "contacts", 0, "earlier contacts within 96 hours")
	f.StringSliceVar(&o.flags, "flag", nil, "context flag known up front (repeatable), e.g. usual_residence")
	f.Float64Var(&o.temp, "temp", 0, "temperature in C")
	f.IntVar(&o.pulse, "pulse", 0, "pulse per minute")
	f.IntVar(&o.rr, "rr", 0, "respiratory rate per minute")
	f.IntVar(&o.spo2, "spo2", 0, "SpO2 % (scale 1, on air)")
	f.IntVar(&o.sbp, "sbp", 0, "systolic blood pressure mmHg")
	f.StringVar(&o.avpu, "avpu", "", "alert | confusion | voice | pain | unresponsive")
	return cmd
}

func runProtocolsTry(cmd *cobra.Command, id string, o tryOptions) error {
	var set *triage.Set
	var err error
	if o.dir != "" {
		set, _, err = protocols.LoadDir(o.dir)
	} else {
		set, _, err = protocols.Load()
	}
	if err != nil {
		return err
	}
	var c protocols.Case
	if o.answers != "" {
		if c, err = protocols.ReadAnswersFile(o.answers); err != nil {
			return err
		}
	}
	applyTryFlags(cmd, o, &c.Patient)
	out := cmd.OutOrStdout()
	s, step, err := triage.Start(set, id, c.Patient)
	if err != nil {
		if errors.Is(err, triage.ErrUnknownProtocol) {
			if hits := complaint.New(set).Search(complaint.Query{Text: strings.ReplaceAll(id, "-", " ")}); len(hits) > 0 {
				return fmt.Errorf("%w (did you mean %s?)", err, hits[0].ID)
			}
		}
		return err
	}
	if o.answers != "" {
		replies, err := protocols.Replies(c.Answers)
		if err != nil {
			return err
		}
		if !step.Done && len(replies) > 0 {
			if s, step, err = triage.Answer(set, s, replies...); err != nil {
				return err
			}
		}
		_, res, err := protocols.Finish(set, s, step, protocols.DefaultAnswer)
		if err != nil {
			return err
		}
		printResult(out, res)
		return nil
	}
	in := bufio.NewScanner(cmd.InOrStdin())
	fmt.Fprintf(out, "%s v%d — answer each question (%s, %s, %s or the value shown); Ctrl-D stops.\n", id, s.Version, triage.Yes, triage.No, triage.NotSure)
	for asked := 0; !step.Done; asked++ {
		if asked > 500 {
			return errors.New("protocols try: too many questions")
		}
		q := step.Questions[0]
		fmt.Fprintf(out, "\n[%s] %s\n", q.ID, q.Text)
		if q.Help != "" {
			fmt.Fprintf(out, "  (%s)\n", q.Help)
		}
		for _, ch := range q.Choices {
			fmt.Fprintf(out, "  %s = %s\n", ch.Value, ch.Label)
		}
		fmt.Fprintf(out, "  answer (%s): ", strings.Join(q.Allowed, " | "))
		if !in.Scan() {
			if err := in.Err(); err != nil {
				return err
			}
			return errors.New("protocols try: input ended before an outcome")
		}
		v := strings.TrimSpace(in.Text())
		if v == "" || v == "?" {
			v = triage.NotSure
		}
		next, nstep, err := triage.Answer(set, s, triage.Reply{Question: q.ID, Value: v})
		var ae *triage.AnswerError
		if errors.As(err, &ae) {
			fmt.Fprintf(out, "  ! %s\n", ae.Error())
			continue
		}
		if err != nil {
			return err
		}
		s, step = next, nstep
	}
	fmt.Fprintln(out)
	printResult(out, step.Outcome)
	return nil
}

func applyTryFlags(cmd *cobra.Command, o tryOptions, p *triage.Patient) {
	f := cmd.Flags()
	if f.Changed("age") {
		p.AgeYears = &o.age
	}
	if f.Changed("age-days") {
		p.AgeDays = &o.ageDays
	}
	if f.Changed("sex") {
		p.Sex = o.sex
	}
	if f.Changed("pregnant") {
		p.Pregnant = o.pregnant
	}
	if f.Changed("channel") {
		p.Channel = o.channel
	}
	if f.Changed("contacts") {
		p.PreviousContacts96h = o.contacts
	}
	if f.Changed("flag") {
		p.Flags = append(p.Flags, o.flags...)
	}
	obs := &p.Observations
	if f.Changed("temp") {
		obs.TemperatureC = &o.temp
	}
	if f.Changed("pulse") {
		obs.Pulse = &o.pulse
	}
	if f.Changed("rr") {
		obs.RespiratoryRate = &o.rr
	}
	if f.Changed("spo2") {
		obs.SpO2 = &o.spo2
	}
	if f.Changed("sbp") {
		obs.SystolicBP = &o.sbp
	}
	if f.Changed("avpu") {
		c := triage.Consciousness(o.avpu)
		obs.Consciousness = &c
	}
}

func printResult(out io.Writer, r *triage.Result) {
	fmt.Fprintf(out, "OUTCOME  %s (%s)\n", r.Title, r.Outcome)
	fmt.Fprintf(out, "  tier %s, %s, timeframe %s", r.Tier, r.Dx, r.Timeframe)
	if r.Action != "" {
		fmt.Fprintf(out, ", action %s", r.Action)
	}
	fmt.Fprintln(out)
	if len(r.CareNeeds) > 0 {
		fmt.Fprintf(out, "  care needs: %s\n", strings.Join(r.CareNeeds, ", "))
	}
	fmt.Fprintf(out, "  decided by: %s", r.DecidedBy)
	if r.TreeOutcome != "" && (r.TreeOutcome != r.Outcome || r.DecidedBy != "tree") {
		fmt.Fprintf(out, " (the %s tree alone reached %s)", r.TreeProtocol, r.TreeOutcome)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "ADVICE   %s\nSAFETY   %s\n", r.Advice, r.SafetyNet)
	if r.Guidance != "" {
		fmt.Fprintf(out, "GUIDANCE %s\n", r.Guidance)
	}
	fmt.Fprintln(out, "PATH")
	for _, p := range r.Path {
		switch p.Kind {
		case "question":
			fmt.Fprintf(out, "  %s.%s  %q -> %s -> %s\n", p.Protocol, p.Node, p.Question, p.Answer, p.Next)
		default:
			fmt.Fprintf(out, "  %s.%s  (%s) -> %s\n", p.Protocol, p.Node, p.Kind, p.Next)
		}
	}
	fmt.Fprintln(out, "CHECKS")
	for _, c := range r.Checks {
		mark := " "
		if c.Raises {
			mark = "^"
		}
		fmt.Fprintf(out, "  %s %-14s %s\n", mark, c.Check, c.Reason)
	}
}

func newProtocolsSearchCmd() *cobra.Command {
	var dir, sex string
	var age int
	cmd := &cobra.Command{
		Use:   "search <words>",
		Short: "Find presentations for a complaint in the person's words, and say why each matched",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var set *triage.Set
			var err error
			if dir != "" {
				set, _, err = protocols.LoadDir(dir)
			} else {
				set, _, err = protocols.Load()
			}
			if err != nil {
				return err
			}
			q := complaint.Query{Text: strings.Join(args, " "), Sex: sex}
			if age >= 0 {
				d := int(float64(age) * 365.25)
				q.AgeDays = &d
			}
			hits := complaint.New(set).Search(q)
			if len(hits) == 0 {
				return fmt.Errorf("protocols search: nothing matches %q", q.Text)
			}
			for _, h := range hits {
				fmt.Fprintf(cmd.OutOrStdout(), "%-32s %6.2f  %s\n", h.ID, h.Score, h.Why)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "protocol directory to use instead of the embedded set")
	cmd.Flags().IntVar(&age, "age", -1, "the person's age in years, if known (ranks presentations)")
	cmd.Flags().StringVar(&sex, "sex", "", "the person's sex, female or male, if known (ranks presentations)")
	return cmd
}

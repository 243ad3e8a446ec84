// NEWS2 (Royal College of Physicians, 2017) computed in the browser as the
// observations are typed, so the desk sees the score before saving. The
// server computes it again from what is saved; the server's figure is the
// one that decides.

function band(v, rows) {
  for (const [max, pts] of rows) if (v <= max) return pts;
  return rows[rows.length - 1][1];
}

// news2 returns {score, complete, anyThree, parts} for observations using
// the API's field names; absent fields score nothing and make it incomplete.
export function news2(o) {
  const parts = {};
  if (o.respiratory_rate != null) parts.respiratory_rate = band(o.respiratory_rate, [[8, 3], [11, 1], [20, 0], [24, 2], [Infinity, 3]]);
  if (o.spo2 != null) {
    if (o.spo2_scale2) {
      parts.spo2 = o.on_oxygen
        ? band(o.spo2, [[83, 3], [85, 2], [87, 1], [92, 0], [94, 1], [96, 2], [Infinity, 3]])
        : band(o.spo2, [[83, 3], [85, 2], [87, 1], [Infinity, 0]]);
    } else {
      parts.spo2 = band(o.spo2, [[91, 3], [93, 2], [95, 1], [Infinity, 0]]);
    }
  }
  if (o.on_oxygen != null) parts.air_or_oxygen = o.on_oxygen ? 2 : 0;
  if (o.systolic_bp != null) parts.systolic_bp = band(o.systolic_bp, [[90, 3], [100, 2], [110, 1], [219, 0], [Infinity, 3]]);
  if (o.pulse != null) parts.pulse = band(o.pulse, [[40, 3], [50, 1], [90, 0], [110, 1], [130, 2], [Infinity, 3]]);
  if (o.consciousness) parts.consciousness = o.consciousness === 'alert' ? 0 : 3;
  // In tenths of a degree, rounded as the server does (35.04 is 35.0).
  if (o.temperature_c != null) parts.temperature_c = band(Math.round(o.temperature_c * 10), [[350, 3], [360, 1], [380, 0], [390, 1], [Infinity, 2]]);
  const vals = Object.values(parts);
  const score = vals.reduce((a, b) => a + b, 0);
  const complete = ['respiratory_rate', 'spo2', 'air_or_oxygen', 'systolic_bp', 'pulse', 'consciousness', 'temperature_c'].every((k) => k in parts);
  return { score, complete, anyThree: vals.includes(3), parts };
}

// response says what a score asks for, in the RCP's words.
export function response(r) {
  if (r.score >= 7) return 'Emergency response: clinician now';
  if (r.score >= 5) return 'Urgent response: clinician within the hour';
  if (r.anyThree) return 'A single parameter scores 3: urgent clinical review';
  if (r.score >= 1) return 'Low: assessment by a clinician';
  return 'No concern from observations';
}

/** SVID lifetime in the chaos lab, seconds (short, so expiry and rotation fit in an experiment). */
export const CHAOS_SVID_TTL = 15;

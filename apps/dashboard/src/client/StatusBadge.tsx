/** A run's status as a coloured pill (colour plus text, so it reads without colour too). */
export function StatusBadge({ status }: { status: string }) {
  const s = status.toLowerCase();
  return (
    <span className={`badge ${s}`} data-status={s}>
      {s}
    </span>
  );
}

/** The logged-in user as the session keeps it and the API shows it. */
export interface ShopUser {
  id: number;
  username: string;
  // Lets a ShopUser stand where the session library expects its open-ended SessionUser.
  [field: string]: unknown;
}

use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, RunQueryDsl};
use tollgate_application::{ClientStore, Error};
use tollgate_domain::{Client, ClientId};

use super::rows::ClientRow;
use super::schema::clients;
use super::{on_unique_violation, Database};

/// [`ClientStore`] on a [`Database`].
#[derive(Debug, Clone)]
pub struct DieselClientStore {
    db: Database,
}

impl DieselClientStore {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }
}

impl ClientStore for DieselClientStore {
    fn create(&self, client: &Client) -> Result<(), Error> {
        let row = ClientRow::from(client);
        db_run!(self.db, |conn| {
            diesel::insert_into(clients::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .map_err(|e| on_unique_violation(e, Error::Conflict("a client with this id exists")))
    }

    fn find(&self, id: &ClientId) -> Result<Option<Client>, Error> {
        let row: Option<ClientRow> = db_run!(self.db, |conn| {
            Ok(clients::table
                .find(id.as_str())
                .get_result(conn)
                .optional()?)
        })?;
        Ok(row.map(Client::try_from).transpose()?)
    }

    fn list(&self) -> Result<Vec<Client>, Error> {
        let rows: Vec<ClientRow> = db_run!(self.db, |conn| {
            Ok(clients::table.order(clients::id.asc()).load(conn)?)
        })?;
        rows.into_iter()
            .map(|r| Client::try_from(r).map_err(Error::from))
            .collect()
    }

    fn remove(&self, id: &ClientId) -> Result<bool, Error> {
        let deleted = db_run!(self.db, |conn| {
            Ok(diesel::delete(clients::table.find(id.as_str())).execute(conn)?)
        })?;
        Ok(deleted > 0)
    }
}

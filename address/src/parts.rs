//! The structured parts of an address in the unified register and its canonical label.

/// The fixed prefix of every canonical label in the register.
pub const PROVINCE_CITY_DISTRICT: &str = "四川省德阳市旌阳区";

/// The parts of one register address, building or unit level.
///
/// Urban addresses use `road` + `door` (+ `compound` + `building` for compounds);
/// rural addresses use `group` (村民小组) + `house`. `unit`/`room` are present only for
/// unit/room level addresses inside multi-unit buildings. `room` carries its floor
/// (`502` is floor 5, room 02; `1603` is floor 16, room 03).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressParts {
    /// Township or street name, ending in 街道 or 镇.
    pub township: String,
    /// Community (…社区) or village (…村) name.
    pub community: String,
    /// Road name ending in 路/街/大道/巷, for urban and town addresses.
    pub road: Option<String>,
    /// Door number on the road (门牌号).
    pub door: Option<u32>,
    /// Compound (小区) name.
    pub compound: Option<String>,
    /// Building number inside the compound (栋).
    pub building: Option<u32>,
    /// Unit (单元) inside the building.
    pub unit: Option<u32>,
    /// Room number including the floor.
    pub room: Option<u32>,
    /// Villagers' group (村民小组, 组) for rural addresses.
    pub group: Option<u32>,
    /// House number inside the group (号) for rural addresses.
    pub house: Option<u32>,
}

impl AddressParts {
    /// The canonical simplified-Chinese label, e.g.
    /// `四川省德阳市旌阳区旌阳街道文庙社区长江西路18号锦绣花园3栋2单元502室`.
    pub fn canonical_label(&self) -> String {
        let mut s = String::with_capacity(96);
        s.push_str(PROVINCE_CITY_DISTRICT);
        s.push_str(&self.township);
        s.push_str(&self.community);
        if let Some(road) = &self.road {
            s.push_str(road);
        }
        if let Some(door) = self.door {
            s.push_str(&format!("{door}号"));
        }
        if let Some(group) = self.group {
            s.push_str(&format!("{group}组"));
        }
        if let Some(house) = self.house {
            s.push_str(&format!("{house}号"));
        }
        if let Some(compound) = &self.compound {
            s.push_str(compound);
        }
        if let Some(b) = self.building {
            s.push_str(&format!("{b}栋"));
        }
        if let Some(u) = self.unit {
            s.push_str(&format!("{u}单元"));
        }
        if let Some(r) = self.room {
            s.push_str(&format!("{r}室"));
        }
        s
    }

    /// The floor a room number carries (`502` → 5, `1603` → 16).
    pub fn floor(&self) -> Option<u32> {
        self.room.map(|r| r / 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urban_unit_label() {
        let p = AddressParts {
            township: "旌阳街道".into(),
            community: "文庙社区".into(),
            road: Some("长江西路".into()),
            door: Some(18),
            compound: Some("锦绣花园".into()),
            building: Some(3),
            unit: Some(2),
            room: Some(502),
            ..Default::default()
        };
        assert_eq!(
            p.canonical_label(),
            "四川省德阳市旌阳区旌阳街道文庙社区长江西路18号锦绣花园3栋2单元502室"
        );
        assert_eq!(p.floor(), Some(5));
    }

    #[test]
    fn rural_label() {
        let p = AddressParts {
            township: "孝泉镇".into(),
            community: "红光村".into(),
            group: Some(3),
            house: Some(18),
            ..Default::default()
        };
        assert_eq!(p.canonical_label(), "四川省德阳市旌阳区孝泉镇红光村3组18号");
    }
}
